// Package discord holds the wire side of Discord's API v10 that Accord
// speaks: the JSON error format with its numeric codes, and the payload
// shapes (user, member, message, …) that REST responses and gateway events
// share. Field names and JSON tags live here and nowhere else.
//
// The package renders; it never reads storage or checks permissions.
package discord
