module github.com/ghost-network/gpmd

go 1.26

require (
	github.com/Masterminds/semver/v3 v3.5.0
	github.com/opencontainers/go-digest v1.0.0
	github.com/spf13/cobra v1.10.2
	github.com/spf13/pflag v1.0.10
	github.com/tetratelabs/wazero v1.12.0
	go.etcd.io/bbolt v1.5.0
	golang.org/x/sys v0.45.0
	golang.org/x/term v0.43.0
)

require github.com/inconshreveable/mousetrap v1.1.0 // indirect
