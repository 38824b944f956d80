package gmp

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ghost-network/gpmd/errdefs"
	"github.com/ghost-network/gpmd/gmp/wire"
	"github.com/ghost-network/gpmd/index"
	"github.com/ghost-network/gpmd/wasm"
)

// handle answers one request; it reports whether the connection goes on.
func (c *conn) handle(msg []byte) bool {
	env, rerr := parseEnvelope(msg)
	name := "invalid"
	if rerr == nil {
		name = messageName(env.typ, env.code)
	}
	// Durations from the server's epoch read the monotonic clock only:
	// time.Now would read the wall clock too, once per request.
	start := time.Since(c.s.epoch)
	defer func() { c.s.cfg.Observer.Request(name, time.Since(c.s.epoch)-start) }()
	if rerr != nil {
		return c.replyError(env.id, rerr.code, rerr.msg)
	}
	switch env.typ {
	case wire.TypeSession:
		switch env.code {
		case wire.CodeHello:
			return c.hello(env)
		case wire.CodePing:
			return c.reply(wire.TypeSession, wire.CodePong, env.id, wire.EmptyBody)
		}
	case wire.TypeNode:
		switch env.code {
		case wire.CodeRegister:
			return c.register(env)
		case wire.CodeDiscover:
			if answered, goOn := c.discoverFleet(env); answered {
				return goOn
			}
			body := c.s.reg.nodesBody()
			return c.reply(wire.TypeNode, wire.CodeNodes, env.id, func(b []byte) []byte { return append(b, body...) })
		case wire.CodeConnect:
			return c.connect(env)
		case wire.CodeUnregister:
			c.unregister(leftUnregister)
			return c.reply(wire.TypeNode, wire.CodeUnregistered, env.id, wire.EmptyBody)
		}
	case wire.TypeEvent:
		if c.s.cfg.Events == nil {
			break // the feature is not offered: unknown_message
		}
		switch env.code {
		case wire.CodeSubscribe:
			return c.subscribe(env)
		case wire.CodeUnsubscribe:
			return c.unsubscribe(env)
		}
	case wire.TypeWasm:
		switch env.code {
		case wire.CodeModuleRequest:
			return c.moduleRequest(env)
		case wire.CodeList:
			return c.list(env)
		case wire.CodeModuleInfoRequest:
			if _, ok := c.s.cfg.Modules.(ModuleInfoStore); ok {
				return c.moduleInfo(env)
			}
		}
	}
	// Replies (WELCOME, NODES, …) sent to GPMD are messages it does not
	// take, as much as an unknown type or code is.
	return c.replyError(env.id, wire.ErrCodeUnknownMessage,
		fmt.Sprintf("GPMD takes no message of type %d code %d", env.typ, env.code))
}

// errorCodeOf maps an error of the module store to its GMP error code, the
// one place the classes of errdefs meet GMP: "" for nil, not_found for
// ErrNotFound (each request turns it into its own not-found reply),
// bad_request for ErrInvalid, internal for anything else (logged by the
// caller; a peer learns no more than that).
func errorCodeOf(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, errdefs.ErrNotFound):
		return wire.ErrCodeNotFound
	case errors.Is(err, wasm.ErrInvalidModule):
		// A stored version whose bytes the parser refuses (stored before
		// uploads were parsed): not the request's fault.
		return wire.ErrCodeInternal
	case errors.Is(err, errdefs.ErrInvalid):
		return wire.ErrCodeBadRequest
	}
	return wire.ErrCodeInternal
}

// fieldError describes a body field of the wrong JSON type.
func fieldError(name, want string) *requestError {
	return badRequest("body field %q must be %s", name, want)
}

func (c *conn) hello(env envelope) bool {
	var m [2][]byte
	wire.LastMembers(env.body, helloKeys[:], m[:])
	client, versions := m[0], m[1]
	var rerr *requestError
	if _, ok := wire.DecodeString(client); client != nil && !ok {
		rerr = fieldError("client", "a string")
	}
	speaks := false
	if rerr == nil && versions != nil {
		if versions[0] != '[' {
			rerr = fieldError("versions", "an array of integers")
		}
		wire.WalkArray(versions, func(v []byte) bool {
			n, ok := wire.DecodeInt(v)
			if !ok {
				rerr = fieldError("versions", "an array of integers")
				return false
			}
			speaks = speaks || n == wire.ProtocolVersion
			return true
		})
	}
	if rerr != nil {
		return c.replyError(env.id, rerr.code, rerr.msg)
	}
	if !speaks {
		// A HELLO without versions offers none that GPMD speaks.
		return c.replyError(env.id, wire.ErrCodeUnsupportedVersion, "GPMD speaks GMP version 1 only")
	}
	w := wire.Welcome{Server: c.s.cfg.ServerName, Version: wire.ProtocolVersion, MaxMessage: c.s.cfg.MaxMessage, Features: c.s.features}
	return c.reply(wire.TypeSession, wire.CodeWelcome, env.id, func(b []byte) []byte { return appendWelcomeBody(b, w) })
}

func (c *conn) register(env envelope) bool {
	deny := func(code, msg string) bool {
		return c.reply(wire.TypeNode, wire.CodeRegisterDenied, env.id, func(b []byte) []byte {
			return appendErrorBody(b, code, msg)
		})
	}
	if reg := c.node.Load(); reg != nil {
		return deny(wire.ErrCodeAlreadyRegistered, "this connection already registered node "+reg.info.Name)
	}
	var m [4][]byte
	wire.LastMembers(env.body, registerKeys[:], m[:])
	var (
		name, id     string
		port         int64
		discoverable = true
		ok           = true
		rerr         *requestError
	)
	if m[0] != nil {
		if name, ok = wire.DecodeString(m[0]); !ok {
			rerr = fieldError("name", "a string")
		}
	}
	if m[1] != nil && rerr == nil {
		if id, ok = wire.DecodeString(m[1]); !ok {
			rerr = fieldError("id", "a string")
		}
	}
	if m[2] != nil && rerr == nil {
		if port, ok = wire.DecodeInt(m[2]); !ok {
			rerr = fieldError("port", "an integer")
		}
	}
	if m[3] != nil && rerr == nil {
		if discoverable, ok = wire.DecodeBool(m[3]); !ok {
			rerr = fieldError("discoverable", "true or false")
		}
	}
	switch {
	case rerr != nil:
		return deny(wire.ErrCodeBadRequest, rerr.msg)
	case !wire.ValidNodeName(name):
		return deny(wire.ErrCodeBadRequest, fmt.Sprintf("node name %q: 1-64 characters of A-Z a-z 0-9 . _ -, beginning with a letter or digit", name))
	case !wire.ValidNodeID(id):
		return deny(wire.ErrCodeBadRequest, "node id: 1-128 printable ASCII characters")
	case !wire.ValidPort(port):
		return deny(wire.ErrCodeBadRequest, "port "+strconv.FormatInt(port, 10)+": a port is 1-65535")
	}
	info := wire.NodeInfo{Name: name, ID: id, Address: c.remote, Port: int(port), Discoverable: discoverable, Since: time.Now()}
	reg, ok := c.s.reg.register(info, c)
	if !ok {
		return deny(wire.ErrCodeNameTaken, "a live node is already called "+name)
	}
	c.node.Store(reg)
	c.nodeName = name
	n := wire.Node{Name: name, ID: id, Address: c.remote, Port: int(port)}
	return c.reply(wire.TypeNode, wire.CodeRegistered, env.id, func(b []byte) []byte { return appendNodeBody(b, n) })
}

// Body members each request reads (see wire.LastMembers for duplicates and null).
var (
	helloKeys    = [2]string{"client", "versions"}
	registerKeys = [4]string{"name", "id", "port", "discoverable"}
)

// stringField reads one string field of a body: required or optional. Of
// duplicate keys the last counts, and null is absent (wire.LastMembers).
func stringField(body []byte, field string, required bool) (string, *requestError) {
	var m [1][]byte
	wire.LastMembers(body, []string{field}, m[:])
	if m[0] == nil {
		if required {
			return "", badRequest("body field %q is required", field)
		}
		return "", nil
	}
	s, ok := wire.DecodeString(m[0])
	if !ok {
		return "", fieldError(field, "a string")
	}
	return s, nil
}

func (c *conn) connect(env envelope) bool {
	name, rerr := stringField(env.body, "name", true)
	if rerr != nil {
		return c.replyError(env.id, rerr.code, rerr.msg)
	}
	if strings.IndexByte(name, '@') >= 0 {
		return c.connectFleet(env, name)
	}
	info, ok := c.s.reg.lookup(name)
	if !ok {
		return c.reply(wire.TypeNode, wire.CodeNotFound, env.id, func(b []byte) []byte {
			return appendErrorBody(b, wire.ErrCodeNotFound, "no live node named "+name)
		})
	}
	n := wire.Node{Name: info.Name, ID: info.ID, Address: info.Address, Port: info.Port}
	return c.reply(wire.TypeNode, wire.CodeNode, env.id, func(b []byte) []byte { return appendNodeBody(b, n) })
}

func (c *conn) list(env envelope) bool {
	name, rerr := stringField(env.body, "name", false)
	if rerr != nil {
		return c.replyError(env.id, rerr.code, rerr.msg)
	}
	if c.s.cfg.Modules == nil {
		return c.replyError(env.id, wire.ErrCodeInternal, "GPMD has no module repository")
	}
	// The name is checked here, once: the store takes it typed. No name
	// (the zero Name) lists all.
	var n index.Name
	if name != "" {
		var err error
		if n, err = index.ParseName(name); err != nil {
			return c.replyError(env.id, wire.ErrCodeBadRequest, err.Error())
		}
	}
	mods, err := c.s.cfg.Modules.List(c.s.ctx, n)
	switch errorCodeOf(err) {
	case "":
	case wire.ErrCodeNotFound:
		mods = nil // LIST has no not-found reply: no such name lists nothing
	case wire.ErrCodeBadRequest:
		return c.replyError(env.id, wire.ErrCodeBadRequest, err.Error())
	default:
		c.s.log.Error("gmp: listing modules", "name", name, "err", err)
		return c.replyError(env.id, wire.ErrCodeInternal, "listing modules failed")
	}
	entries := make([]wire.ModuleEntry, len(mods))
	for i, m := range mods {
		entries[i] = wire.ModuleEntry{Name: m.Name, Versions: make([]wire.ModuleVersion, len(m.Versions))}
		for j, v := range m.Versions {
			entries[i].Versions[j] = wire.ModuleVersion{Version: v.Version, Hash: v.Digest.String(), Size: v.Size}
		}
	}
	return c.reply(wire.TypeWasm, wire.CodeModules, env.id, func(b []byte) []byte { return appendModulesBody(b, entries) })
}

func (c *conn) moduleRequest(env envelope) bool {
	q, ok, goOn := c.moduleQuery(env)
	if !ok {
		return goOn
	}
	name, version := q.Name().String(), q.Text()
	have, rerr := stringField(env.body, "have", false)
	if rerr == nil && have != "" && !validHash(have) {
		rerr = badRequest("have %q: a digest is sha256: and 64 lower-case hex digits", have)
	}
	if rerr != nil {
		return c.replyError(env.id, rerr.code, rerr.msg)
	}
	rec, rc, err := c.s.cfg.Modules.Get(c.s.ctx, q)
	if err != nil {
		return c.moduleLookupFailed(env, name, version, err, "reading module "+name+" failed")
	}
	if have != "" && have == rec.Digest.String() {
		// The node holds these bytes: MODULE without its binary.
		rc.Close()
		m := wire.ModuleInfo{Name: rec.Name, Version: rec.Version, Hash: rec.Digest.String(), Size: rec.Size}
		return c.reply(wire.TypeWasm, wire.CodeModule, env.id, func(b []byte) []byte { return appendModuleInfoBody(b, m) })
	}
	return c.sendModule(env.id, rec, rc)
}

// moduleInfo answers MODULE_INFO_REQUEST: the version resolves as for
// MODULE_REQUEST, and the reply is what GPMD recorded of it at upload.
func (c *conn) moduleInfo(env envelope) bool {
	q, ok, goOn := c.moduleQuery(env)
	if !ok {
		return goOn
	}
	name, version := q.Name().String(), q.Text()
	rec, info, err := c.s.cfg.Modules.(ModuleInfoStore).Info(c.s.ctx, q)
	if errors.Is(err, wasm.ErrInvalidModule) {
		c.s.log.Error("gmp: a stored module has no record", "name", name, "version", version, "err", err)
		return c.replyError(env.id, wire.ErrCodeInternal, "module "+rec.Name+"@"+rec.Version+" has no record: its stored bytes are not a valid module")
	}
	if err != nil {
		return c.moduleLookupFailed(env, name, version, err, "reading the record of module "+name+" failed")
	}
	body, err := json.Marshal(wire.ModuleDetails{Name: rec.Name, Version: rec.Version, Hash: rec.Digest.String(), Size: rec.Size,
		Kind: string(info.Kind), Imports: info.Imports, Exports: info.Exports})
	if err != nil {
		c.s.log.Error("gmp: encoding a module's record", "name", rec.Name, "version", rec.Version, "err", err)
		return c.replyError(env.id, wire.ErrCodeInternal, "encoding the record of module "+name+" failed")
	}
	return c.reply(wire.TypeWasm, wire.CodeModuleInfo, env.id, func(b []byte) []byte { return append(b, body...) })
}

// moduleQuery reads the name and version of MODULE_REQUEST and
// MODULE_INFO_REQUEST and parses them, once, into the query the store
// takes: a bad name or query is ERROR bad_request quoting the parser. When
// ok is false it has answered the request itself (a bad body, no module
// store), and goOn says whether the connection goes on.
func (c *conn) moduleQuery(env envelope) (q index.Query, ok, goOn bool) {
	name, rerr := stringField(env.body, "name", true)
	var version string
	if rerr == nil {
		version, rerr = stringField(env.body, "version", false)
	}
	if rerr != nil {
		return index.Query{}, false, c.replyError(env.id, rerr.code, rerr.msg)
	}
	if c.s.cfg.Modules == nil {
		return index.Query{}, false, c.replyError(env.id, wire.ErrCodeInternal, "GPMD has no module repository")
	}
	q, err := index.ParseQuery(name, version)
	if err != nil {
		return index.Query{}, false, c.replyError(env.id, wire.ErrCodeBadRequest, err.Error())
	}
	return q, true, true
}

// moduleLookupFailed answers a module request whose lookup failed:
// MODULE_NOT_FOUND, ERROR bad_request, or ERROR internal with internalMsg
// (the cause is logged, not told).
func (c *conn) moduleLookupFailed(env envelope, name, version string, err error, internalMsg string) bool {
	switch errorCodeOf(err) {
	case wire.ErrCodeNotFound:
		what := name
		if version != "" {
			what += "@" + version
		}
		return c.reply(wire.TypeWasm, wire.CodeModuleNotFound, env.id, func(b []byte) []byte {
			return appendErrorBody(b, wire.ErrCodeNotFound, "no module "+what)
		})
	case wire.ErrCodeBadRequest:
		return c.replyError(env.id, wire.ErrCodeBadRequest, err.Error())
	}
	c.s.log.Error("gmp: looking up a module", "name", name, "version", version, "err", err)
	return c.replyError(env.id, wire.ErrCodeInternal, internalMsg)
}
