package wire

// maxDepth is the deepest nesting Valid accepts, encoding/json's: a value
// nested deeper is refused by both.
const maxDepth = 10000

// Valid reports whether b is one JSON value (RFC 8259), with any JSON
// whitespace around it, exactly as json.Valid does (FuzzValid holds it to
// that): strings may hold any byte from 0x20 up, valid UTF-8 or not, and
// nesting deeper than 10,000 is refused. It is the check every GMP message
// passes (gmp's Decoder) before anything reads it, written out because
// json.Valid's general scanner was a twentieth of the server's CPU for a
// DISCOVER or CONNECT: a state function call per byte, and a scanner taken
// from a pool per message.
func Valid(b []byte) bool {
	// containers holds one bit per open container: 1 an object, 0 an
	// array; it grows past the first 128 levels only for messages nested
	// that deep.
	var first [2]uint64
	containers := first[:]
	depth := 0
	i := SkipSpace(b, 0)
	for {
		// A value begins at i.
		if i >= len(b) {
			return false
		}
		var ok bool
		switch c := b[i]; c {
		case '{', '[':
			if depth == maxDepth {
				return false
			}
			if depth/64 == len(containers) {
				containers = append(containers, 0)
			}
			if c == '{' {
				containers[depth/64] |= 1 << (depth % 64)
			} else {
				containers[depth/64] &^= 1 << (depth % 64)
			}
			depth++
			i = SkipSpace(b, i+1)
			switch {
			case i < len(b) && (b[i] == '}' && c == '{' || b[i] == ']' && c == '['):
				depth--
				i++
			case c == '{':
				if i, ok = memberKey(b, i); !ok {
					return false
				}
				continue
			default:
				continue
			}
		case '"':
			if i, ok = stringToken(b, i); !ok {
				return false
			}
		case 't':
			if i, ok = literal(b, i, "true"); !ok {
				return false
			}
		case 'f':
			if i, ok = literal(b, i, "false"); !ok {
				return false
			}
		case 'n':
			if i, ok = literal(b, i, "null"); !ok {
				return false
			}
		default:
			if i, ok = number(b, i); !ok {
				return false
			}
		}
		// A value ended at i: what follows closes containers, or
		// separates the next member or element.
		for {
			i = SkipSpace(b, i)
			if depth == 0 {
				return i == len(b)
			}
			if i >= len(b) {
				return false
			}
			inObject := containers[(depth-1)/64]>>((depth-1)%64)&1 == 1
			c := b[i]
			if c == ',' {
				i = SkipSpace(b, i+1)
				if inObject {
					if i, ok = memberKey(b, i); !ok {
						return false
					}
				}
				break
			}
			if c == '}' && inObject || c == ']' && !inObject {
				depth--
				i++
				continue
			}
			return false
		}
	}
}

// memberKey scans a member's key and its colon from b[i]; it returns the
// index of the value after them.
func memberKey(b []byte, i int) (int, bool) {
	if i >= len(b) || b[i] != '"' {
		return i, false
	}
	i, ok := stringToken(b, i)
	if !ok {
		return i, false
	}
	i = SkipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return i, false
	}
	return SkipSpace(b, i+1), true
}

// stringToken scans the string that begins at b[i] == '"'; it returns the
// index just past it.
func stringToken(b []byte, i int) (int, bool) {
	for i++; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			return i + 1, true
		case c < 0x20:
			return i, false
		case c == '\\':
			i++
			if i >= len(b) {
				return i, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) {
					return i, false
				}
				for _, h := range b[i+1 : i+5] {
					if !isHex(h) {
						return i, false
					}
				}
				i += 4
			default:
				return i, false
			}
		}
	}
	return i, false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// literal scans the literal word at b[i].
func literal(b []byte, i int, word string) (int, bool) {
	if len(b)-i < len(word) || string(b[i:i+len(word)]) != word {
		return i, false
	}
	return i + len(word), true
}

// number scans the number at b[i]: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func number(b []byte, i int) (int, bool) {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b) || !isDigit(b[i]):
		return i, false
	case b[i] == '0':
		i++
	default:
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return i, false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return i, false
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, true
}
