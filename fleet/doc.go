// Package fleet joins a GPMD to a fleet of devices over NATS JetStream, so
// that GVM nodes on one device can find the nodes of the others (issue 13,
// GMP.md "Fleet scope").
//
// # Model
//
// Each device's GPMD stays the authority for its own nodes. A [Fleet]
// publishes the device's registrations into one JetStream key-value bucket
// and watches the whole bucket into a local copy; every query ([Fleet.Discover],
// [Fleet.Names], [Fleet.Lookup], [Fleet.Status]) is answered from that copy
// under a mutex and never waits on NATS.
//
// # Bucket layout
//
// The bucket (default "gpmd_nodes") holds two kinds of key, both under one
// prefix per device so that a NATS permission on "$KV.<bucket>.<device>.>"
// confines a device to its own keys:
//
//	<device>._device   {"device","address","version","started"}   the device entry
//	<device>.<node>    {"name","id","device","address","port","discoverable"}
//
// Device and node names may contain '.', which NATS uses to split key
// tokens. Both are written with every '.' replaced by '=' (a character that
// neither names nor GMP allow, but NATS keys do), so a key always has exactly
// two tokens and no two (device, node) pairs share a key. "_device" cannot be
// a node name: node names begin with a letter or digit.
//
// # Guarantees
//
//   - Register and Unregister never block: they record the desired state
//     under a mutex and wake one writer goroutine. Pending changes coalesce per
//     name, so memory is bounded by the number of names and nothing is
//     dropped; the writer applies the latest state of each name.
//   - An unregistered node is deleted from the bucket at once (one round trip
//     when connected); other devices drop it when the delete reaches their
//     watcher (milliseconds on a LAN).
//   - The bucket's max age is ExpiryMargin (1 s) under the Expiry
//     (Config.BucketTTL), and every entry of ours is rewritten every third
//     of that (the heartbeat) and in full after every (re)connection, so
//     what expired while we were away comes back. An entry whose device
//     stops refreshing (killed, partitioned) leaves the bucket at the max
//     age after its last refresh, and every watcher within the Expiry of
//     it: the margin holds the server's late expiry timer and the
//     delivery. On nats-server 2.11+ the bucket is created with limit
//     markers, so expiry reaches watchers as an event; on an older server
//     (or a bucket made elsewhere, or by an earlier GPMD, with a longer max
//     age) each watcher drops, on its own clock, entries not refreshed for
//     the max age, checking every quarter second.
//   - Node entries of our device found in the first snapshot of a watcher
//     but not registered here (left by a previous run killed before it
//     could delete them) are deleted at once. Two GPMDs must therefore never
//     share a device name.
//   - Each change of the local copy is applied, and its events handed to
//     Config.OnEvent in order, under one lock; Snapshot runs a function
//     under that lock, so a consumer that starts a subscription in it (GMP's
//     SUBSCRIBE with fleet scope) sees every change exactly once, in the
//     snapshot or as an event.
//   - Nothing read from the bucket is trusted: a value that is not valid JSON,
//     larger than [MaxValueSize], whose device or name differs from its key's,
//     a key of another shape, a name, id, address or port that breaks the GMP
//     rules: ignored, logged (rate-limited), never served. Entries of our own
//     device are ignored too (the local registry is the authority), and a
//     node is served only while its device entry is present.
//   - NATS unreachable, at start or later: Start still returns at once (the
//     connection is made in the background, retried forever with a capped
//     backoff). Queries keep answering from the local copy; once no connection
//     has existed for Expiry, the remote entries are cleared so stale nodes
//     are not served, and Lookup's error says the fleet is unreachable.
//
// # Caveats
//
//   - Clocks are never compared across devices: expiry is decided by the NATS
//     server, the local fallback uses the local clock only.
//   - A device's write permission is what keeps it from overwriting another
//     device's keys; without NATS permissions (docs/fleet.md) any client of
//     the bucket can write any key, and this package can only refuse to
//     serve entries whose value contradicts their key.
package fleet
