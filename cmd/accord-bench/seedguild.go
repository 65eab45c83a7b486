package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/perm"
	"github.com/accord-chat/accord/core/secret"
	"github.com/accord-chat/accord/core/snowflake"
	"github.com/accord-chat/accord/core/store"
	"github.com/accord-chat/accord/core/store/pebblestore"
)

// runSeedGuild writes one guild with --members members into a fresh store,
// each member a user with its own token, for the gateway fan-out
// benchmark. Registering that many users over REST would hash a password
// with bcrypt per user (minutes); here every user shares one hash, computed
// once, and the ops are committed directly with NoSync and synced at the
// end, as seed does.
func runSeedGuild(args []string) error {
	fs := flag.NewFlagSet("seed-guild", flag.ContinueOnError)
	data := fs.String("data", "", "data directory of a stopped server (its store must not exist yet)")
	members := fs.Int("members", 15000, "members of the guild, the owner included")
	out := fs.String("out", "", "file to write the tokens to, one a line, the owner (sender) first (default DIR/bench-tokens.txt)")
	batch := fs.Int("batch", 1000, "users per store commit")
	password := fs.String("password", "seed password 1", "password of every seeded user")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *data == "" || *members < 1 || *batch < 1 {
		return errors.New("need --data, --members ≥ 1 and --batch ≥ 1")
	}
	if *out == "" {
		*out = filepath.Join(*data, "bench-tokens.txt")
	}
	dir := filepath.Join(*data, "store")
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("%s exists: seed-guild writes a fresh store only", dir)
	}
	if err := os.MkdirAll(*data, 0o755); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := pebblestore.Open(pebblestore.Options{Dir: dir, Logger: log, NoSync: true})
	if err != nil {
		return err
	}
	start := time.Now()
	sg, err := seedGuildOps(context.Background(), st, *members, *batch, *password)
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// The store was written without syncs: make everything durable now.
	syscall.Sync()

	f, err := os.OpenFile(*out, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	for _, t := range sg.tokens {
		fmt.Fprintln(w, t)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Printf("seeded guild %s (text channel %s) with %d members in %s\n", sg.guild, sg.channel, *members, time.Since(start).Round(time.Millisecond))
	fmt.Printf("tokens file:   %s (first line: the owner, who sends)\n", *out)
	return nil
}

type seededGuild struct {
	guild, channel snowflake.ID
	tokens         []string
}

// seedGuildOps writes the users (user, credentials, token), then the
// guild, its @everyone role and one text channel, then the memberships:
// the ops Register, CreateGuild and AcceptInvite commit.
func seedGuildOps(ctx context.Context, st store.Store, members, batch int, password string) (*seededGuild, error) {
	// Worker 31, process 30 as in seed: never an ID the server (node 0)
	// makes.
	ids := snowflake.NewGenerator(31, 30)
	now := time.Now().UTC()
	hash, err := secret.HashPassword(password)
	if err != nil {
		return nil, err
	}
	users := make([]snowflake.ID, members)
	tokens := make([]string, members)
	for lo := 0; lo < members; lo += batch {
		var b store.Batch
		for i := lo; i < min(lo+batch, members); i++ {
			name := fmt.Sprintf("bench_%06d", i)
			u := &model.User{ID: ids.Next(), Username: name, Discriminator: "0"}
			tok, digest := secret.NewToken(u.ID, now)
			users[i], tokens[i] = u.ID, tok
			b.Add(
				store.Op{Kind: store.OpPutUser, User: u},
				store.Op{Kind: store.OpPutCredentials, Credentials: &model.Credentials{UserID: u.ID, Login: strings.ToLower(name), PasswordHash: hash}},
				store.Op{Kind: store.OpPutToken, Token: &model.Token{Hash: digest, UserID: u.ID, CreatedAt: now}},
			)
		}
		if err := st.Commit(ctx, &b); err != nil {
			return nil, fmt.Errorf("seed users %d–: %w", lo, err)
		}
	}

	gid, cid := ids.Next(), ids.Next()
	g := &model.Guild{ID: gid, Name: "Fan-out Guild", OwnerID: users[0], AFKTimeout: 300, SystemChannelID: cid,
		PreferredLocale: "en-US", DefaultMessageNotifications: 1}
	var meta store.Batch
	meta.Add(
		store.Op{Kind: store.OpPutGuild, Guild: g},
		store.Op{Kind: store.OpPutRole, GuildID: gid, Role: &model.Role{ID: gid, Name: "@everyone", Permissions: perm.DefaultEveryone}},
		store.Op{Kind: store.OpPutChannel, GuildID: gid, Channel: &model.Channel{ID: cid, Type: model.ChannelGuildText,
			GuildID: gid, Name: "fan-out", PermissionOverwrites: []model.Overwrite{}}},
	)
	if err := st.Commit(ctx, &meta); err != nil {
		return nil, fmt.Errorf("seed guild: %w", err)
	}
	for lo := 0; lo < members; lo += batch {
		var b store.Batch
		for _, uid := range users[lo:min(lo+batch, members)] {
			b.Add(store.Op{Kind: store.OpPutMember, GuildID: gid, Member: &model.Member{GuildID: gid, UserID: uid, Roles: []snowflake.ID{}, JoinedAt: now}})
		}
		if err := st.Commit(ctx, &b); err != nil {
			return nil, fmt.Errorf("seed members %d–: %w", lo, err)
		}
	}
	return &seededGuild{guild: gid, channel: cid, tokens: tokens}, nil
}
