// Package events is GPMD's event hub: the one place where changes to the
// live nodes and to the module store become a numbered stream that GMP
// subscribers (EVENT, GMP.md type 3) and the control API's Server-Sent
// Events read.
//
// # Guarantees
//
//   - One sequence per process: every published event gets the next seq,
//     whatever its topic, starting at 1. A new process starts again at 1;
//     a resume that names a seq the process never issued is told to
//     resync (ErrGone).
//   - A subscription sees every event of its topics published after the
//     seq Subscribe returned, in seq order, and none before it.
//   - The producer never blocks: Publish takes the hub's lock, numbers the
//     event, keeps it in the history and appends a pointer to each
//     subscriber's queue. A subscriber's queue holds at most Options.Queue
//     events; when one more arrives, what is queued is dropped and the
//     subscriber is told once per topic with an "overflow" event whose seq
//     is the last one dropped. The subscription stays.
//   - The history keeps the last Options.History events for Resume (SSE's
//     Last-Event-ID). A resume from before it, or from a seq this process
//     never issued, is ErrGone: the reader must resync from a listing.
//   - Publishing with no subscriber costs a lock, an allocation and a
//     store into the history ring.
//
// # Fleet scope
//
// A node event of another device of the fleet (Event.Device set, Name
// name@device) is delivered under FleetNodes, which only fleet-scope
// subscriptions hold (with Nodes); it shares the one sequence and the
// history. Removing Nodes from a subscription removes FleetNodes with it.
//
// # Consistency with a snapshot
//
// A producer that must be consistent with a snapshot (the GMP registry: a
// SUBSCRIBED reply lists the live nodes at the seq it carries) publishes
// under its own lock, and takes the snapshot and calls Subscribe under
// that same lock; the hub's lock nests inside it. The fleet's local copy
// does the same for other devices' nodes (fleet.Fleet.Snapshot), and a
// fleet-scope subscription takes both locks, the fleet's first.
//
// # Caveats
//
// Events are held in memory only; nothing survives a restart. A
// subscriber that never takes its events holds at most Options.Queue
// pointers to events, shared with the history.
package events
