package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/accord-chat/accord/core/apierr"
	"github.com/accord-chat/accord/core/snowflake"
)

// maxJSONBody bounds a JSON request body. Discord's largest JSON bodies
// (ten embeds of 6000 characters) fit well inside it.
const maxJSONBody = 1 << 20

// opt is a JSON field that may be absent, null or set: PATCH bodies need
// all three ("topic": null clears the topic, no "topic" keeps it).
type opt[T any] struct {
	Set  bool
	Null bool
	V    T
}

func (o *opt[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.V)
}

// ptr returns the value, or nil when absent or null.
func (o opt[T]) ptr() *T {
	if !o.Set || o.Null {
		return nil
	}
	v := o.V
	return &v
}

// nullable returns nil when absent, a pointer to nil when null, else a
// pointer to the value: the shape of the engine's patch fields that can be
// cleared.
func (o opt[T]) nullable() **T {
	if !o.Set {
		return nil
	}
	var inner *T
	if !o.Null {
		v := o.V
		inner = &v
	}
	return &inner
}

// decodeJSON reads a JSON object body into dst, turning decoder errors into
// Discord's: 50109 for malformed JSON, 50035 with the field path for a
// value of the wrong type. Unknown fields are ignored, as Discord does.
func decodeJSON(r *http.Request, dst any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	if err != nil {
		return apierr.ErrInvalidJSON
	}
	if len(body) > maxJSONBody {
		return apierr.ErrPayloadTooLarge
	}
	return decodeBytes(body, dst)
}

// decodeBytes is decodeJSON for a body already read; the fuzz target calls
// it directly.
func decodeBytes(body []byte, dst any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return apierr.ErrInvalidJSON
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := te.Field
			if field == "" {
				field = "_root"
			}
			return apierr.InvalidForm(field, typeCode(te.Type), fmt.Sprintf("Value of type %s is not valid here.", te.Value))
		}
		if errors.Is(err, snowflake.ErrInvalid) {
			if path, v, ok := badSnowflake(body, reflect.TypeOf(dst)); ok {
				return apierr.InvalidForm(path, "NUMBER_TYPE_COERCE", fmt.Sprintf("Value %q is not snowflake.", truncate(v)))
			}
			return apierr.InvalidForm("_root", "NUMBER_TYPE_COERCE", err.Error())
		}
		var se *json.SyntaxError
		if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return apierr.ErrInvalidJSON
		}
		return apierr.InvalidForm("_root", "BASE_TYPE_INVALID", err.Error())
	}
	// Only whitespace may follow the object: dec.More would let a stray
	// "}" or "]" through.
	if len(bytes.TrimSpace(body[dec.InputOffset():])) > 0 {
		return apierr.ErrInvalidJSON
	}
	return nil
}

var (
	idType  = reflect.TypeOf(ID(0))
	rawType = reflect.TypeOf(json.RawMessage(nil))
)

// badSnowflake finds the first snowflake field of t (the type decoded
// into) that body gives a value that is not a snowflake, and returns its
// dotted path ("message_reference.message_id", "messages.3") and the
// offending value: json reports such errors without the field.
func badSnowflake(body []byte, t reflect.Type) (path, value string, ok bool) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return "", "", false
	}
	return findBadSnowflake(v, t, "")
}

func findBadSnowflake(v any, t reflect.Type, path string) (string, string, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch {
	case v == nil || t == rawType:
		return "", "", false
	case t == idType:
		raw, _ := json.Marshal(v)
		var id ID
		if id.UnmarshalJSON(raw) != nil {
			s, isStr := v.(string)
			if !isStr {
				s = string(raw)
			}
			return path, s, true
		}
	case t.Kind() == reflect.Struct && strings.HasPrefix(t.Name(), "opt["):
		if f, ok := t.FieldByName("V"); ok {
			return findBadSnowflake(v, f.Type, path)
		}
	case t.Kind() == reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return "", "", false
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if !f.IsExported() || name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fv, found := obj[name]
			if !found { // encoding/json matches keys case-insensitively
				for k, kv := range obj {
					if strings.EqualFold(k, name) {
						fv, found = kv, true
						break
					}
				}
			}
			if found {
				if p, s, ok := findBadSnowflake(fv, f.Type, join(name)); ok {
					return p, s, true
				}
			}
		}
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		arr, ok := v.([]any)
		if !ok {
			return "", "", false
		}
		for i, e := range arr {
			if p, s, ok := findBadSnowflake(e, t.Elem(), join(strconv.Itoa(i))); ok {
				return p, s, true
			}
		}
	}
	return "", "", false
}

// typeCode names the expected type the way Discord's error codes do.
func typeCode(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeOf(snowflake.ID(0)) {
		return "NUMBER_TYPE_COERCE"
	}
	switch t.Kind() {
	case reflect.String:
		return "BASE_TYPE_STRING"
	case reflect.Bool:
		return "BASE_TYPE_BOOLEAN"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "NUMBER_TYPE_COERCE"
	case reflect.Slice, reflect.Array:
		return "BASE_TYPE_ARRAY"
	case reflect.Map, reflect.Struct:
		return "DICT_TYPE_CONVERT"
	}
	return "BASE_TYPE_INVALID"
}

// permString is a permission bit set, sent as a decimal string (Discord
// also accepts a number from older clients).
type permString uint64

func (p *permString) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return &json.UnmarshalTypeError{Value: "string " + truncate(s), Type: reflect.TypeOf(uint64(0))}
	}
	*p = permString(v)
	return nil
}

// queryInt reads an integer query parameter within [min, max].
func queryInt(r *http.Request, name string, def, min, max int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, apierr.InvalidForm(name, "NUMBER_TYPE_COERCE", fmt.Sprintf("Value %q is not int.", truncate(v)))
	}
	if n < min || n > max {
		return 0, apierr.InvalidForm(name, "NUMBER_TYPE_MAX", fmt.Sprintf("Int value should be between %d and %d.", min, max))
	}
	return n, nil
}

// querySnowflake reads an optional snowflake query parameter.
func querySnowflake(r *http.Request, name string) (ID, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	id, err := snowflake.Parse(v)
	if err != nil {
		return 0, apierr.InvalidForm(name, "NUMBER_TYPE_COERCE", fmt.Sprintf("Value %q is not snowflake.", truncate(v)))
	}
	return id, nil
}

// readAll reads a JSON body of any shape (position bodies are arrays).
// Malformed JSON is refused here: callers splice the body into a wrapper
// object, where `[], "items": [...]` would otherwise become valid JSON.
func readAll(r *request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
	if err != nil {
		return nil, apierr.ErrInvalidJSON
	}
	if len(body) > maxJSONBody {
		return nil, apierr.ErrPayloadTooLarge
	}
	if !json.Valid(body) {
		return nil, apierr.ErrInvalidJSON
	}
	return body, nil
}
