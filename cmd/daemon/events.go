package daemon

import (
	"log/slog"

	"github.com/ghost-network/gpmd/events"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/repo"
)

// moduleEvents turns the store's changes into module events on the hub
// and lines in the log. Import uploads through the daemon, so it is told
// here too; a restore runs with the daemon stopped, and the next daemon
// starts a fresh sequence (a stream resuming from the old one is told to
// resync).
type moduleEvents struct {
	hub *events.Hub
	log *slog.Logger
}

var _ repo.Observer = moduleEvents{}

func (m moduleEvents) VersionAdded(rec index.Record) {
	m.hub.Publish(events.Event{Topic: events.TopicModules, Event: events.Uploaded,
		Name: rec.Name, Version: rec.Version, Hash: rec.Digest.String(), Size: rec.Size})
	m.log.Info("module uploaded", "name", rec.Name, "version", rec.Version, "digest", rec.Digest.String(), "size", rec.Size)
}

func (m moduleEvents) VersionRemoved(rec index.Record) {
	m.hub.Publish(events.Event{Topic: events.TopicModules, Event: events.Removed,
		Name: rec.Name, Version: rec.Version, Hash: rec.Digest.String()})
	m.log.Info("module removed", "name", rec.Name, "version", rec.Version, "digest", rec.Digest.String())
}

func (m moduleEvents) LatestChanged(name string, rec index.Record, ok bool) {
	e := events.Event{Topic: events.TopicModules, Event: events.Latest, Name: name}
	if ok {
		e.Version, e.Hash = rec.Version, rec.Digest.String()
	}
	m.hub.Publish(e)
}
