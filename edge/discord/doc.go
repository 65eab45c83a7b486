// Package discord holds the wire side of Discord's API v10 that Accord
// speaks: the payload shapes (user, member, message, …) that REST
// responses and gateway events share, and the renderer that turns core's
// model values into them. Field names and JSON tags live here and nowhere
// else; the error table with Discord's codes is core/apierr's.
//
// The package renders; it never reads storage or checks permissions.
package discord
