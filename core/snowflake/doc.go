// Package snowflake generates and parses Discord-style 64-bit IDs.
//
// Layout (most significant bit first): 42 bits of milliseconds since the
// Discord epoch (2015-01-01T00:00:00Z), 5 bits worker, 5 bits process and a
// 12-bit increment. IDs from one Generator are unique and strictly
// increasing even when the wall clock steps backwards: the generator never
// issues a timestamp lower than the last one it used.
//
// IDs travel as JSON strings, as Discord's API does, because JavaScript
// numbers cannot hold 64 bits.
package snowflake
