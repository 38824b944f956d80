// Package api is the control API's vocabulary, shared by its server
// (cmd/control) and its client (cmd/control/client): the JSON bodies, the
// headers, the error codes and the error classes they stand for, the
// socket's Host, the paths of modules. docs/control-api.md and
// docs/json.md document them for people.
//
// # Guarantees
//
// Light. It imports the standard library (not net/http), errdefs and the light packages
// whose values it carries (events, wasm, gmp/wire, fleet/fleetinfo), and
// nothing that opens a store or speaks to a registry or a fleet: the gpmd
// command line links it (issue 15; cmd/gpmd's TestLightDependencies
// fails when a heavy package comes back).
//
// The same JSON. Where the server's own values carry heavier types
// (index.Record with a go-digest digest, repo's reports), the types here
// are the client's reading of the same JSON, field for field;
// cmd/control's TestAPIMatchesServerJSON encodes the server's values and
// fails on any field that these types would drop or spell otherwise.
package api
