package apierr

import (
	"encoding/json"
	"fmt"
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
	ErrUnauthorized       = newErr(401, 0, "401: Unauthorized")
	ErrNotFound           = newErr(404, 0, "404: Not Found")
	ErrMethodNotAllowed   = newErr(405, 0, "405: Method Not Allowed")
	ErrUnknownApplication = newErr(404, 10002, "Unknown Application")
	ErrUnknownChannel     = newErr(404, 10003, "Unknown Channel")
	ErrUnknownGuild       = newErr(404, 10004, "Unknown Guild")
	ErrUnknownInvite      = newErr(404, 10006, "Unknown Invite")
	ErrUnknownMember      = newErr(404, 10007, "Unknown Member")
	ErrUnknownMessage     = newErr(404, 10008, "Unknown Message")
	ErrUnknownOverwrite   = newErr(404, 10009, "Unknown Overwrite")
	ErrUnknownRole        = newErr(404, 10011, "Unknown Role")
	ErrUnknownToken       = newErr(404, 10012, "Unknown Token")
	ErrUnknownUser        = newErr(404, 10013, "Unknown User")
	ErrUnknownEmoji       = newErr(404, 10014, "Unknown Emoji")
	ErrUnknownBan         = newErr(404, 10026, "Unknown Ban")
	ErrBotsForbidden      = newErr(403, 20001, "Bots cannot use this endpoint")
	ErrMaxGuilds          = newErr(400, 30001, "Maximum number of guilds reached (100)")
	ErrMaxPins            = newErr(400, 30003, "Maximum number of pins reached for the channel (50)")
	ErrMaxRoles           = newErr(400, 30005, "Maximum number of guild roles reached (250)")
	ErrMaxReactions       = newErr(400, 30010, "Maximum number of reactions reached (20)")
	ErrMaxChannels        = newErr(400, 30013, "Maximum number of guild channels reached (500)")
	ErrBanned             = newErr(403, 40007, "The user is banned from this guild.")
	ErrTargetNotInVoice   = newErr(400, 40032, "Target user is not connected to voice")
	ErrUsernameTaken      = newErr(400, 40061, "Username is unavailable")
	ErrMissingAccess      = newErr(403, 50001, "Missing Access")
	ErrInvalidAccountType = newErr(403, 50002, "Invalid account type")
	ErrDMChannel          = newErr(403, 50003, "Cannot execute action on a DM channel")
	ErrNotAuthor          = newErr(403, 50005, "Cannot edit a message authored by another user")
	ErrEmptyMessage       = newErr(400, 50006, "Cannot send an empty message")
	ErrCannotDM           = newErr(403, 50007, "Cannot send messages to this user")
	ErrNotTextChannel     = newErr(400, 50008, "Cannot send messages in a non-text channel")
	ErrMissingPermissions = newErr(403, 50013, "Missing Permissions")
	ErrInvalidToken       = newErr(401, 50014, "Invalid authentication token provided")
	ErrBulkCount          = newErr(400, 50016, "Provided too few or too many messages to delete. Must provide at least 2 and fewer than 100 messages to delete.")
	ErrPinWrongChannel    = newErr(400, 50019, "A message can only be pinned to the channel it was sent in")
	ErrSystemMessage      = newErr(403, 50021, "Cannot execute action on a system message")
	ErrBulkTooOld         = newErr(400, 50034, "A message provided was too old to bulk delete")
	ErrInvalidJSON        = newErr(400, 50109, "The request body contains invalid JSON.")
	ErrOwnerOnly          = newErr(403, 50013, "Missing Permissions")
	ErrRequiredChannel    = newErr(400, 50074, "Cannot delete a channel required for Community guilds")
	ErrPayloadTooLarge    = newErr(413, 40005, "Request entity too large")
	ErrInternal           = newErr(500, 0, "500: Internal Server Error")
	ErrUnavailable        = newErr(503, 0, "503: Service Unavailable")
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
	return &Error{Status: 400, Code: 50035, Message: "Invalid Form Body", Errors: tree}
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
