// Package perm implements Discord's permission model (API v10) for Accord:
// the permission bits, their decimal-string wire form, the guild-level and
// channel-level computation with overwrites and implicit rules, and the role
// hierarchy checks used by moderation endpoints.
//
// The reference is https://discord.com/developers/docs/topics/permissions
// (discord/discord-api-docs, developers/topics/permissions.mdx, as of 2026).
// Where that page is vague — which bits a voice channel loses without
// CONNECT — the choice made here is documented next to the code and backed
// by the other API pages that constrain it.
//
// Permissions are plain uint64 bit sets so that model.Role.Permissions and
// model.Overwrite.Allow/Deny can be used directly; the bit constants are
// untyped, so they combine with uint64 and Permissions alike.
//
// Compute and ComputeBase take an Input value that callers fill from whatever
// they already hold (a cached guild state, a member row); they never allocate,
// because they run for every message send and for every recipient of a
// gateway event. ForMember and ForChannel are conveniences over model objects.
package perm
