package discord

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

// Error is an API error in Discord's format:
// {"code": 50013, "message": "Missing Permissions"} plus, for 50035, the
// nested "errors" tree that names each bad field.
type Error struct {
	Status  int            `json:"-"`
	Code    int            `json:"code"`
	Message string         `json:"message"`
	Errors  map[string]any `json:"errors,omitempty"`
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s", e.Code, e.Message) }

// Is lets errors.Is match on the Discord code, so wrapped copies of a
// sentinel still match it.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && t.Status == e.Status
}

func newErr(status, code int, msg string) *Error {
	return &Error{Status: status, Code: code, Message: msg}
}

// The errors Accord returns, with Discord's JSON error codes.
var (
	ErrUnauthorized       = newErr(http.StatusUnauthorized, 0, "401: Unauthorized")
	ErrNotFound           = newErr(http.StatusNotFound, 0, "404: Not Found")
	ErrMethodNotAllowed   = newErr(http.StatusMethodNotAllowed, 0, "405: Method Not Allowed")
	ErrUnknownApplication = newErr(http.StatusNotFound, 10002, "Unknown Application")
	ErrUnknownChannel     = newErr(http.StatusNotFound, 10003, "Unknown Channel")
	ErrUnknownGuild       = newErr(http.StatusNotFound, 10004, "Unknown Guild")
	ErrUnknownInvite      = newErr(http.StatusNotFound, 10006, "Unknown Invite")
	ErrUnknownMember      = newErr(http.StatusNotFound, 10007, "Unknown Member")
	ErrUnknownMessage     = newErr(http.StatusNotFound, 10008, "Unknown Message")
	ErrUnknownOverwrite   = newErr(http.StatusNotFound, 10009, "Unknown Overwrite")
	ErrUnknownRole        = newErr(http.StatusNotFound, 10011, "Unknown Role")
	ErrUnknownToken       = newErr(http.StatusNotFound, 10012, "Unknown Token")
	ErrUnknownUser        = newErr(http.StatusNotFound, 10013, "Unknown User")
	ErrUnknownEmoji       = newErr(http.StatusNotFound, 10014, "Unknown Emoji")
	ErrUnknownBan         = newErr(http.StatusNotFound, 10026, "Unknown Ban")
	ErrBotsForbidden      = newErr(http.StatusForbidden, 20001, "Bots cannot use this endpoint")
	ErrMaxGuilds          = newErr(http.StatusBadRequest, 30001, "Maximum number of guilds reached (100)")
	ErrMaxPins            = newErr(http.StatusBadRequest, 30003, "Maximum number of pins reached for the channel (50)")
	ErrMaxRoles           = newErr(http.StatusBadRequest, 30005, "Maximum number of guild roles reached (250)")
	ErrMaxReactions       = newErr(http.StatusBadRequest, 30010, "Maximum number of reactions reached (20)")
	ErrMaxChannels        = newErr(http.StatusBadRequest, 30013, "Maximum number of guild channels reached (500)")
	ErrBanned             = newErr(http.StatusForbidden, 40007, "The user is banned from this guild.")
	ErrUsernameTaken      = newErr(http.StatusBadRequest, 40061, "Username is unavailable")
	ErrMissingAccess      = newErr(http.StatusForbidden, 50001, "Missing Access")
	ErrInvalidAccountType = newErr(http.StatusForbidden, 50002, "Invalid account type")
	ErrDMChannel          = newErr(http.StatusForbidden, 50003, "Cannot execute action on a DM channel")
	ErrNotAuthor          = newErr(http.StatusForbidden, 50005, "Cannot edit a message authored by another user")
	ErrEmptyMessage       = newErr(http.StatusBadRequest, 50006, "Cannot send an empty message")
	ErrCannotDM           = newErr(http.StatusForbidden, 50007, "Cannot send messages to this user")
	ErrNotTextChannel     = newErr(http.StatusBadRequest, 50008, "Cannot send messages in a non-text channel")
	ErrMissingPermissions = newErr(http.StatusForbidden, 50013, "Missing Permissions")
	ErrInvalidToken       = newErr(http.StatusUnauthorized, 50014, "Invalid authentication token provided")
	ErrBulkCount          = newErr(http.StatusBadRequest, 50016, "Provided too few or too many messages to delete. Must provide at least 2 and fewer than 100 messages to delete.")
	ErrPinWrongChannel    = newErr(http.StatusBadRequest, 50019, "A message can only be pinned to the channel it was sent in")
	ErrSystemMessage      = newErr(http.StatusForbidden, 50021, "Cannot execute action on a system message")
	ErrBulkTooOld         = newErr(http.StatusBadRequest, 50034, "A message provided was too old to bulk delete")
	ErrInvalidJSON        = newErr(http.StatusBadRequest, 50109, "The request body contains invalid JSON.")
	ErrOwnerOnly          = newErr(http.StatusForbidden, 50013, "Missing Permissions")
	ErrRequiredChannel    = newErr(http.StatusBadRequest, 50074, "Cannot delete a channel required for Community guilds")
	ErrPayloadTooLarge    = newErr(http.StatusRequestEntityTooLarge, 40005, "Request entity too large")
	ErrInternal           = newErr(http.StatusInternalServerError, 0, "500: Internal Server Error")
	ErrUnavailable        = newErr(http.StatusServiceUnavailable, 0, "503: Service Unavailable")
)

// FieldError is one entry of a 50035 error tree.
type FieldError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// FormErrors collects per-field problems of a request body and turns them
// into Discord's 50035 "Invalid Form Body" error. Paths are dotted, with
// numbers for array indexes: "embeds.0.title".
type FormErrors struct {
	fields map[string][]FieldError
}

// Add records a problem with the field at path.
func (f *FormErrors) Add(path, code, message string) {
	if f.fields == nil {
		f.fields = make(map[string][]FieldError)
	}
	f.fields[path] = append(f.fields[path], FieldError{Code: code, Message: message})
}

// Addf is Add with a formatted message.
func (f *FormErrors) Addf(path, code, format string, args ...any) {
	f.Add(path, code, fmt.Sprintf(format, args...))
}

// Empty reports whether no problem was recorded.
func (f *FormErrors) Empty() bool { return len(f.fields) == 0 }

// Err returns nil when no problem was recorded, else the 50035 error.
func (f *FormErrors) Err() error {
	if f.Empty() {
		return nil
	}
	tree := map[string]any{}
	paths := make([]string, 0, len(f.fields))
	for p := range f.fields {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		node := tree
		parts := strings.Split(p, ".")
		for _, part := range parts[:len(parts)-1] {
			next, ok := node[part].(map[string]any)
			if !ok {
				next = map[string]any{}
				node[part] = next
			}
			node = next
		}
		last := parts[len(parts)-1]
		leaf, ok := node[last].(map[string]any)
		if !ok {
			leaf = map[string]any{}
			node[last] = leaf
		}
		leaf["_errors"] = f.fields[p]
	}
	return &Error{Status: http.StatusBadRequest, Code: 50035, Message: "Invalid Form Body", Errors: tree}
}

// InvalidForm is a shortcut for a 50035 error with one field.
func InvalidForm(path, code, message string) error {
	var f FormErrors
	f.Add(path, code, message)
	return f.Err()
}

// MarshalError encodes an error for a response body.
func MarshalError(e *Error) []byte {
	b, _ := json.Marshal(e)
	return b
}
