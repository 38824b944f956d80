package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// The JSON primitives of GMP (see the package doc for why by hand). Every
// walker here requires input that json.Valid accepted.

// IsSpace reports whether c is JSON whitespace.
func IsSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// SkipSpace returns the index of the first byte at or after i that is not
// JSON whitespace.
func SkipSpace(b []byte, i int) int {
	for i < len(b) && IsSpace(b[i]) {
		i++
	}
	return i
}

// stringEnd returns the index just past the string starting at b[i] == '"'.
func stringEnd(b []byte, i int) int {
	i++
	for i < len(b) {
		switch b[i] {
		case '\\':
			i += 2
		case '"':
			return i + 1
		default:
			i++
		}
	}
	return len(b)
}

// valueEnd returns the index just past the value starting at b[i].
func valueEnd(b []byte, i int) int {
	switch b[i] {
	case '"':
		return stringEnd(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = stringEnd(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	default: // number, true, false, null
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\r', '\n':
				return i
			}
			i++
		}
		return len(b)
	}
}

// WalkObject calls fn for each member of the valid JSON object obj, in
// order, with the key's raw string token (quotes included) and the raw
// value. It stops early when fn returns false.
func WalkObject(obj []byte, fn func(key, val []byte) bool) {
	i := SkipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return
	}
	i = SkipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return
	}
	for i < len(obj) {
		kEnd := stringEnd(obj, i)
		key := obj[i:kEnd]
		i = SkipSpace(obj, kEnd)
		i = SkipSpace(obj, i+1) // ':'
		vEnd := valueEnd(obj, i)
		if !fn(key, obj[i:vEnd]) {
			return
		}
		i = SkipSpace(obj, vEnd)
		if i >= len(obj) || obj[i] == '}' {
			return
		}
		i = SkipSpace(obj, i+1) // ','
	}
}

// LastMembers sets out[i] to the raw value of the last member of the valid
// JSON object obj whose key is names[i], or nil where that key is absent or
// its last value is null. This is GMP.md's rule for bodies in one place:
// of duplicate keys the last counts, whatever the earlier ones held, and
// null is the same as absent. len(out) must equal len(names).
func LastMembers(obj []byte, names []string, out [][]byte) {
	clear(out)
	WalkObject(obj, func(key, val []byte) bool {
		for i, n := range names {
			if KeyIs(key, n) {
				out[i] = val
				if IsNull(val) {
					out[i] = nil
				}
				break
			}
		}
		return true
	})
}

// KeyIs reports whether the raw key token names want. A key written with
// escapes ("typ\u0065") is the same key as its plain spelling.
func KeyIs(key []byte, want string) bool {
	// An escape is longer than the character it stands for: a token no
	// longer than want's plain spelling is that spelling or another key,
	// which spares the search for a backslash in nearly every call.
	switch n := len(key) - 2; {
	case n < len(want):
		return false
	case n == len(want):
		return string(key[1:len(key)-1]) == want
	case bytes.IndexByte(key, '\\') < 0:
		return false
	}
	s, ok := DecodeString(key)
	return ok && s == want
}

// IsNull reports whether a raw value is JSON null.
func IsNull(val []byte) bool { return string(val) == "null" }

// DecodeString decodes a raw JSON string value; ok is false for any other
// JSON type.
func DecodeString(val []byte) (string, bool) {
	if len(val) < 2 || val[0] != '"' {
		return "", false
	}
	if bytes.IndexByte(val, '\\') < 0 {
		return string(val[1 : len(val)-1]), true
	}
	var s string
	if err := json.Unmarshal(val, &s); err != nil {
		return "", false
	}
	return s, true
}

// DecodeInt decodes a raw JSON integer: a number with no fraction and no
// exponent that fits in an int64. 1.0 and 1e0 are numbers but not
// integers in this sense; GMP's integers are written as integers.
func DecodeInt(val []byte) (int64, bool) {
	// The digits of a small integer (a type, a code, an id) are summed
	// here; anything longer, or not only digits, goes to strconv.
	if n := len(val); n > 0 && n <= 18 {
		var v int64
		for _, c := range val {
			if c < '0' || c > '9' {
				v = -1
				break
			}
			v = v*10 + int64(c-'0')
		}
		if v >= 0 {
			return v, true
		}
	}
	return parseInt(val)
}

// parseInt is DecodeInt without its fast path (FuzzDecodeInt holds the two
// to each other).
func parseInt(val []byte) (int64, bool) {
	if len(val) == 0 || (val[0] != '-' && (val[0] < '0' || val[0] > '9')) {
		return 0, false
	}
	if bytes.ContainsAny(val, ".eE") {
		return 0, false
	}
	n, err := strconv.ParseInt(string(val), 10, 64)
	return n, err == nil
}

// DecodeBool decodes a raw JSON true or false.
func DecodeBool(val []byte) (v, ok bool) {
	switch string(val) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}

// AppendString appends s as a JSON string, escaped as encoding/json does
// (without its HTML escaping): quotes, backslashes and control characters
// escaped, invalid UTF-8 replaced by U+FFFD, U+2028 and U+2029 escaped.
func AppendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// WalkArray calls fn for each element of the valid JSON array arr.
func WalkArray(arr []byte, fn func(val []byte) bool) {
	i := SkipSpace(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return
	}
	i = SkipSpace(arr, i+1)
	if i < len(arr) && arr[i] == ']' {
		return
	}
	for i < len(arr) {
		vEnd := valueEnd(arr, i)
		if !fn(arr[i:vEnd]) {
			return
		}
		i = SkipSpace(arr, vEnd)
		if i >= len(arr) || arr[i] == ']' {
			return
		}
		i = SkipSpace(arr, i+1) // ','
	}
}

// DescribeByte names the byte a malformed message begins with, for error
// messages.
func DescribeByte(c byte) string {
	switch {
	case c == '[':
		return "'[' (an array)"
	case c == '"':
		return "'\"' (a string)"
	case c == '-' || (c >= '0' && c <= '9'):
		return fmt.Sprintf("%q (a number)", c)
	case c == 't' || c == 'f' || c == 'n':
		return fmt.Sprintf("%q (a literal)", c)
	case c >= 0x20 && c < 0x7f:
		return fmt.Sprintf("%q", c)
	default:
		return fmt.Sprintf("byte 0x%02x", c)
	}
}

// AppendHeader appends `{"type":T,"code":C,"id":ID,"body":`.
func AppendHeader(b []byte, typ, code int, id []byte) []byte {
	b = append(b, `{"type":`...)
	b = strconv.AppendInt(b, int64(typ), 10)
	b = append(b, `,"code":`...)
	b = strconv.AppendInt(b, int64(code), 10)
	if id != nil {
		b = append(b, `,"id":`...)
		b = append(b, id...)
	}
	return append(b, `,"body":`...)
}

// EmptyBody appends the empty body {}.
func EmptyBody(b []byte) []byte { return append(b, '{', '}') }
