package cassandra

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/store"
)

const (
	qGetUser        = `SELECT data FROM users WHERE user_id = ?`
	qGetCredentials = `SELECT data FROM credentials WHERE login = ?`
	qGetToken       = `SELECT data FROM tokens WHERE hash = ?`
	qGetApplication = `SELECT data FROM applications WHERE application_id = ?`
	qGetInvite      = `SELECT data FROM invites WHERE code = ?`
	qAllUsers       = `SELECT data FROM users`
	qAllDMs         = `SELECT data FROM dm_channels`
	qAllGuilds      = `SELECT data FROM guilds`
	qGuildChannels  = `SELECT data FROM guild_channels WHERE guild_id = ?`
	qGuildRoles     = `SELECT data FROM guild_roles WHERE guild_id = ?`
	qGuildMembers   = `SELECT data FROM guild_members WHERE guild_id = ?`
	qGuildBans      = `SELECT data FROM guild_bans WHERE guild_id = ?`
	qGuildInvites   = `SELECT data FROM guild_invites WHERE guild_id = ?`
)

// scanPage is the page size of full-table and whole-partition reads.
const scanPage = 1000

// getJSON reads one row's JSON value.
func getJSON[T any](ctx context.Context, s *Store, query string, key any) (*T, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	var data []byte
	if err := s.sess.Query(query, key).WithContext(ctx).Scan(&data); err != nil {
		return nil, err
	}
	v := new(T)
	if err := json.Unmarshal(data, v); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	return v, nil
}

func (s *Store) GetUser(ctx context.Context, id store.ID) (*model.User, error) {
	u, err := getJSON[model.User](ctx, s, qGetUser, sid(id))
	return u, wrap(err, "get user %d", id)
}

func (s *Store) GetCredentials(ctx context.Context, login string) (*model.Credentials, error) {
	if login == "" { // an empty partition key is an error in CQL
		return nil, wrap(store.ErrNotFound, "get credentials %q", login)
	}
	c, err := getJSON[model.Credentials](ctx, s, qGetCredentials, login)
	return c, wrap(err, "get credentials %q", login)
}

func (s *Store) GetToken(ctx context.Context, hash []byte) (*model.Token, error) {
	if len(hash) == 0 {
		return nil, wrap(store.ErrNotFound, "get token")
	}
	t, err := getJSON[model.Token](ctx, s, qGetToken, hash)
	// Never put the hash in an error: it identifies a live credential.
	return t, wrap(err, "get token")
}

func (s *Store) GetApplication(ctx context.Context, id store.ID) (*model.Application, error) {
	a, err := getJSON[model.Application](ctx, s, qGetApplication, sid(id))
	return a, wrap(err, "get application %d", id)
}

func (s *Store) GetInvite(ctx context.Context, code string) (*model.Invite, error) {
	if code == "" {
		return nil, wrap(store.ErrNotFound, "get invite %q", code)
	}
	inv, err := getJSON[model.Invite](ctx, s, qGetInvite, code)
	return inv, wrap(err, "get invite %q", code)
}

// scanJSON decodes every row of a query whose only column is a JSON value
// and calls fn with each, stopping at fn's first error, which it returns
// as is.
func scanJSON[T any](ctx context.Context, s *Store, query string, args []any, fn func(*T) error) (fnErr, err error) {
	iter := s.sess.Query(query, args...).WithContext(ctx).PageSize(scanPage).Iter()
	var data []byte
	for iter.Scan(&data) {
		v := new(T)
		if err := json.Unmarshal(data, v); err != nil {
			iter.Close()
			return nil, fmt.Errorf("decode: %w", err)
		}
		if err := fn(v); err != nil {
			iter.Close()
			return err, nil
		}
	}
	return nil, iter.Close()
}

// ForEachUser reads the whole users table, which comes in token order, and
// sorts it: the caller wants ID order and holds every user in memory
// anyway.
func (s *Store) ForEachUser(ctx context.Context, fn func(*model.User) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	var users []*model.User
	_, err := scanJSON(ctx, s, qAllUsers, nil, func(u *model.User) error {
		users = append(users, u)
		return nil
	})
	if err != nil {
		return wrap(err, "for each user")
	}
	slices.SortFunc(users, func(a, b *model.User) int { return cmp.Compare(a.ID, b.ID) })
	for _, u := range users {
		if err := fn(u); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) ForEachDM(ctx context.Context, fn func(*model.Channel) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	fnErr, err := scanJSON(ctx, s, qAllDMs, nil, fn)
	if fnErr != nil {
		return fnErr
	}
	return wrap(err, "for each DM")
}

// guildLoaders is how many guilds ForEachGuild loads ahead of the
// callback: each guild is five partition reads, and doing them one after
// another would make a start with many guilds slow.
const guildLoaders = 8

// ForEachGuild reads the guilds table, sorts it by ID and loads each
// guild's channels, roles, members, bans and invites, a partition read
// each, several guilds at a time.
func (s *Store) ForEachGuild(ctx context.Context, fn func(*store.GuildSnapshot) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	var guilds []*model.Guild
	_, err := scanJSON(ctx, s, qAllGuilds, nil, func(g *model.Guild) error {
		guilds = append(guilds, g)
		return nil
	})
	if err != nil {
		return wrap(err, "for each guild")
	}
	slices.SortFunc(guilds, func(a, b *model.Guild) int { return cmp.Compare(a.ID, b.ID) })

	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the loaders when fn fails
	type result struct {
		snap *store.GuildSnapshot
		err  error
	}
	results := make([]chan result, len(guilds))
	for i := range results {
		results[i] = make(chan result, 1)
	}
	slots := make(chan struct{}, guildLoaders)
	go func() {
		for i, g := range guilds {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			go func() {
				snap, err := s.loadGuild(ctx, g)
				results[i] <- result{snap, err}
			}()
		}
	}()
	for i, g := range guilds {
		var r result
		select {
		case r = <-results[i]:
		case <-ctx.Done():
			return ctx.Err()
		}
		<-slots
		if r.err != nil {
			return wrap(r.err, "for each guild: guild %d", g.ID)
		}
		if err := fn(r.snap); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) loadGuild(ctx context.Context, g *model.Guild) (*store.GuildSnapshot, error) {
	snap := &store.GuildSnapshot{Guild: g}
	key := []any{sid(g.ID)}
	if err := collect(ctx, s, qGuildChannels, key, &snap.Channels); err != nil {
		return nil, fmt.Errorf("channels: %w", err)
	}
	if err := collect(ctx, s, qGuildRoles, key, &snap.Roles); err != nil {
		return nil, fmt.Errorf("roles: %w", err)
	}
	if err := collect(ctx, s, qGuildMembers, key, &snap.Members); err != nil {
		return nil, fmt.Errorf("members: %w", err)
	}
	if err := collect(ctx, s, qGuildBans, key, &snap.Bans); err != nil {
		return nil, fmt.Errorf("bans: %w", err)
	}
	if err := collect(ctx, s, qGuildInvites, key, &snap.Invites); err != nil {
		return nil, fmt.Errorf("invites: %w", err)
	}
	return snap, nil
}

func collect[T any](ctx context.Context, s *Store, query string, args []any, out *[]*T) error {
	_, err := scanJSON(ctx, s, query, args, func(v *T) error {
		*out = append(*out, v)
		return nil
	})
	return err
}
