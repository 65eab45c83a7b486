package pebblestore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/store"
)

// ctxCheckEvery is how many rows a scan reads between checks of its
// context: often enough to stop promptly, rarely enough to cost nothing.
const ctxCheckEvery = 256

func (s *Store) GetUser(ctx context.Context, id store.ID) (*model.User, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	u, err := getJSON[model.User](s, idKey(tUser, id))
	if err != nil {
		return nil, fmt.Errorf("pebblestore: get user %d: %w", id, err)
	}
	return u, nil
}

func (s *Store) GetCredentials(ctx context.Context, login string) (*model.Credentials, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c, err := getJSON[model.Credentials](s, bytesKey(tCredentials, []byte(login)))
	if err != nil {
		return nil, fmt.Errorf("pebblestore: get credentials %q: %w", login, err)
	}
	return c, nil
}

func (s *Store) GetToken(ctx context.Context, hash []byte) (*model.Token, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(hash) == 0 {
		return nil, fmt.Errorf("pebblestore: get token: %w", store.ErrNotFound)
	}
	t, err := getJSON[model.Token](s, bytesKey(tToken, hash))
	if err != nil {
		// Never log or return the hash: it identifies a live credential.
		return nil, fmt.Errorf("pebblestore: get token: %w", err)
	}
	return t, nil
}

func (s *Store) GetApplication(ctx context.Context, id store.ID) (*model.Application, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a, err := getJSON[model.Application](s, idKey(tApplication, id))
	if err != nil {
		return nil, fmt.Errorf("pebblestore: get application %d: %w", id, err)
	}
	return a, nil
}

// forEach decodes every value of one table and calls fn with it, in key
// order. Errors returned by fn are passed through unwrapped.
func forEach[T any](ctx context.Context, s *Store, table byte, what string, fn func(*T) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()
	var fnFailed bool
	n := 0
	err := scan(s.db, []byte{table}, func(_, v []byte) error {
		if n++; n%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		x, err := decode[T](v)
		if err != nil {
			return err
		}
		if err := fn(x); err != nil {
			fnFailed = true
			return err
		}
		return nil
	})
	if fnFailed {
		return err
	}
	if err != nil {
		return fmt.Errorf("pebblestore: %s: %w", what, err)
	}
	return ctx.Err()
}

func (s *Store) ForEachUser(ctx context.Context, fn func(*model.User) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return forEach(ctx, s, tUser, "for each user", fn)
}

func (s *Store) ForEachDM(ctx context.Context, fn func(*model.Channel) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return forEach(ctx, s, tDM, "for each DM", fn)
}

// ForEachGuild reads the whole guild table with one iterator, so each
// snapshot is consistent with the commits that preceded the call. Records
// of a guild whose guild record is missing are skipped.
func (s *Store) ForEachGuild(ctx context.Context, fn func(*store.GuildSnapshot) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.leave()

	var cur *store.GuildSnapshot
	var curID store.ID
	var fnFailed bool
	flush := func() error {
		if cur == nil {
			return nil
		}
		g := cur
		cur = nil
		if err := fn(g); err != nil {
			fnFailed = true
			return err
		}
		return nil
	}
	n := 0
	err := scan(s.db, []byte{tGuild}, func(k, v []byte) error {
		if n++; n%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if len(k) < guildKeyLen {
			return errCorrupt
		}
		gid := store.ID(binary.BigEndian.Uint64(k[1:9]))
		if gid != curID {
			if err := flush(); err != nil {
				return err
			}
			curID = gid
		}
		kind := k[9]
		if kind == gGuild {
			g, err := decode[model.Guild](v)
			if err != nil {
				return err
			}
			cur = &store.GuildSnapshot{Guild: g}
			return nil
		}
		if cur == nil {
			return nil // orphan of a guild that was never put
		}
		return decodeInto(cur, kind, v)
	})
	if err == nil {
		err = flush()
	}
	if fnFailed {
		return err
	}
	if err != nil {
		return fmt.Errorf("pebblestore: for each guild: at guild %d: %w", curID, err)
	}
	return ctx.Err()
}

func decodeInto(g *store.GuildSnapshot, kind byte, v []byte) error {
	var err error
	switch kind {
	case gChannel:
		var c *model.Channel
		if c, err = decode[model.Channel](v); err == nil {
			g.Channels = append(g.Channels, c)
		}
	case gRole:
		var r *model.Role
		if r, err = decode[model.Role](v); err == nil {
			g.Roles = append(g.Roles, r)
		}
	case gMember:
		var m *model.Member
		if m, err = decode[model.Member](v); err == nil {
			g.Members = append(g.Members, m)
		}
	case gBan:
		var b *model.Ban
		if b, err = decode[model.Ban](v); err == nil {
			g.Bans = append(g.Bans, b)
		}
	case gInvite:
		var i *model.Invite
		if i, err = decode[model.Invite](v); err == nil {
			g.Invites = append(g.Invites, i)
		}
	default:
		// A kind added by a newer version; this one does not know it.
	}
	return err
}

// GetInvite follows the code index to the guild that owns the invite.
func (s *Store) GetInvite(ctx context.Context, code string) (*model.Invite, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.leave()
	var gid store.ID
	err := getValue(s.db, bytesKey(tInviteIndex, []byte(code)), func(v []byte) error {
		if len(v) != 8 {
			return errCorrupt
		}
		gid = store.ID(binary.BigEndian.Uint64(v))
		return nil
	})
	var inv *model.Invite
	if err == nil {
		err = getValue(s.db, guildInviteKey(gid, code), func(v []byte) (err error) {
			inv, err = decode[model.Invite](v)
			return err
		})
	}
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("pebblestore: get invite %q: %w", code, store.ErrNotFound)
		}
		return nil, fmt.Errorf("pebblestore: get invite %q: %w", code, err)
	}
	return inv, nil
}
