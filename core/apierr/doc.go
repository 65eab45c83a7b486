// Package apierr is the one table of the errors Accord reports to
// clients: each with Discord's HTTP status and numeric JSON error code
// ({"code": 50013, "message": "Missing Permissions"}), and FormErrors for
// the 50035 "Invalid Form Body" tree that names each bad field.
//
// core returns these errors from commands, so a permission or validation
// failure found anywhere in the domain reaches the client with Discord's
// code; edge/rest writes them as response bodies and the gateway maps them
// to close codes. The package has no transport: statuses are plain numbers.
package apierr
