module github.com/ghost-network/gpmd

go 1.26

require (
	github.com/Masterminds/semver/v3 v3.5.0
	github.com/opencontainers/go-digest v1.0.0
	go.etcd.io/bbolt v1.5.0
)

require golang.org/x/sys v0.45.0 // indirect
