package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/perm"
	"github.com/accord-chat/accord/core/secret"
	"github.com/accord-chat/accord/core/snowflake"
	"github.com/accord-chat/accord/core/store"
	"github.com/accord-chat/accord/core/store/pebblestore"
)

type seedConfig struct {
	data     string
	messages int
	channels int
	span     time.Duration
	batch    int
	workers  int
	username string
	password string
}

func runSeed(args []string) error {
	var c seedConfig
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.StringVar(&c.data, "data", "", "data directory of a stopped server (its store must not exist yet)")
	fs.IntVar(&c.messages, "messages", 1_000_000, "messages to write")
	fs.IntVar(&c.channels, "channels", 1000, "text channels in the guild")
	fs.DurationVar(&c.span, "span", 90*24*time.Hour, "time the message timestamps spread over, ending now")
	fs.IntVar(&c.batch, "batch", 1000, "messages per store commit")
	fs.IntVar(&c.workers, "workers", 2, "concurrent committers")
	fs.StringVar(&c.username, "username", "seed_owner", "login of the guild owner")
	fs.StringVar(&c.password, "password", "seed password 1", "password of the guild owner")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if c.data == "" || c.messages < 0 || c.channels < 1 || c.batch < 1 || c.workers < 1 {
		return errors.New("need --data, --channels ≥ 1, --batch ≥ 1 and --messages ≥ 0")
	}
	spanMs := c.span.Milliseconds()
	if spanMs < 1 || int64(c.messages) > spanMs*4096 {
		return fmt.Errorf("--span %s is too short for %d unique message IDs", c.span, c.messages)
	}
	dir := filepath.Join(c.data, "store")
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("%s exists: seed writes a fresh store only", dir)
	}
	if err := os.MkdirAll(c.data, 0o755); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := pebblestore.Open(pebblestore.Options{Dir: dir, Logger: log, NoSync: true})
	if err != nil {
		return err
	}
	start := time.Now()
	ctx := context.Background()
	sm, err := seedMeta(ctx, st, c)
	if err == nil {
		err = seedMessages(ctx, st, c, sm)
	}
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	// The store was written without syncs: make everything durable now.
	syscall.Sync()

	tokenFile := filepath.Join(c.data, "bench-token.txt")
	chansFile := filepath.Join(c.data, "bench-channels.txt")
	var b strings.Builder
	for _, ch := range sm.chans {
		fmt.Fprintln(&b, ch)
	}
	if err := os.WriteFile(chansFile, []byte(b.String()), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(tokenFile, []byte(sm.token+"\n"), 0o600); err != nil {
		return err
	}
	fmt.Printf("seeded %d messages over %d channels of guild %s in %s\n", c.messages, c.channels, sm.guild, time.Since(start).Round(time.Millisecond))
	fmt.Printf("user:          %s (password %q)\n", c.username, c.password)
	fmt.Printf("token:         %s\n", sm.token)
	fmt.Printf("token file:    %s\n", tokenFile)
	fmt.Printf("channels file: %s\n", chansFile)
	return nil
}

// seeded is what seedMeta made.
type seeded struct {
	token string
	owner snowflake.ID
	guild snowflake.ID
	chans []snowflake.ID
}

// seedMeta writes the owner (user, credentials, token) and the guild with
// its @everyone role, channels and owner membership: the ops Register and
// CreateGuild/CreateChannel commit. The engine caps a guild at 500
// channels when they are created through the API; a seeded guild may hold
// more.
func seedMeta(ctx context.Context, st store.Store, c seedConfig) (*seeded, error) {
	ids := snowflake.NewGenerator(31, 30)
	now := time.Now().UTC()
	hash, err := secret.HashPassword(c.password)
	if err != nil {
		return nil, err
	}
	u := &model.User{ID: ids.Next(), Username: c.username, Discriminator: "0"}
	tok, digest := secret.NewToken(u.ID, now)
	var acct store.Batch
	acct.Add(
		store.Op{Kind: store.OpPutUser, User: u},
		store.Op{Kind: store.OpPutCredentials, Credentials: &model.Credentials{UserID: u.ID, Login: strings.ToLower(c.username), PasswordHash: hash}},
		store.Op{Kind: store.OpPutToken, Token: &model.Token{Hash: digest, UserID: u.ID, CreatedAt: now}},
	)
	if err := st.Commit(ctx, &acct); err != nil {
		return nil, fmt.Errorf("seed user: %w", err)
	}

	gid := ids.Next()
	chans := make([]snowflake.ID, c.channels)
	for i := range chans {
		chans[i] = ids.Next()
	}
	g := &model.Guild{ID: gid, Name: "Seeded Guild", OwnerID: u.ID, AFKTimeout: 300, SystemChannelID: chans[0],
		PreferredLocale: "en-US", DefaultMessageNotifications: 1}
	var meta store.Batch
	meta.Add(
		store.Op{Kind: store.OpPutGuild, Guild: g},
		store.Op{Kind: store.OpPutRole, GuildID: gid, Role: &model.Role{ID: gid, Name: "@everyone", Permissions: perm.DefaultEveryone}},
	)
	for i, id := range chans {
		meta.Add(store.Op{Kind: store.OpPutChannel, GuildID: gid, Channel: &model.Channel{ID: id, Type: model.ChannelGuildText,
			GuildID: gid, Name: fmt.Sprintf("seed-%d", i), Position: i, PermissionOverwrites: []model.Overwrite{}}})
	}
	meta.Add(store.Op{Kind: store.OpPutMember, GuildID: gid, Member: &model.Member{GuildID: gid, UserID: u.ID, Roles: []snowflake.ID{}, JoinedAt: now}})
	if err := st.Commit(ctx, &meta); err != nil {
		return nil, fmt.Errorf("seed guild: %w", err)
	}
	return &seeded{token: tok, owner: u.ID, guild: gid, chans: chans}, nil
}

// seedMessages writes message k at start + k·span/messages into channel
// k mod channels, so every channel's history covers the whole span and
// each batch touches many channels, as live traffic does. IDs carry
// worker 31, process 31 and k mod 4096 as the increment: unique, and
// never equal to an ID the server (node 0) makes.
func seedMessages(ctx context.Context, st store.Store, c seedConfig, sm *seeded) error {
	if c.messages == 0 {
		return nil
	}
	end := time.Now().Add(-time.Minute).UnixMilli() - snowflake.Epoch
	first := end - c.span.Milliseconds()
	step := float64(c.span.Milliseconds()) / float64(c.messages)
	gid, chans := sm.guild, sm.chans
	words := strings.Fields("the quick brown fox jumps over the lazy dog while seven wizards quietly judge boxing matches at dawn")
	var done atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, c.workers)
	startAt := time.Now()
	for w := range c.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lo := w * c.batch; lo < c.messages; lo += c.workers * c.batch {
				var b store.Batch
				b.Ops = make([]store.Op, 0, c.batch)
				for k := lo; k < min(lo+c.batch, c.messages); k++ {
					ms := first + int64(float64(k)*step)
					id := snowflake.ID(uint64(ms)<<22 | 31<<17 | 31<<12 | uint64(k&4095))
					ch := chans[k%len(chans)]
					n := 3 + k%17 // 3–19 words: 15–110 bytes
					var sb strings.Builder
					fmt.Fprintf(&sb, "#%d", k)
					for j := range n {
						sb.WriteByte(' ')
						sb.WriteString(words[(k+j*7)%len(words)])
					}
					m := &model.Message{ID: id, ChannelID: ch, GuildID: gid, AuthorID: sm.owner, Content: sb.String(), Timestamp: id.Time()}
					b.Ops = append(b.Ops, store.Op{Kind: store.OpPutMessage, GuildID: gid, ChannelID: ch, ID: id, Message: m})
				}
				if err := st.Commit(ctx, &b); err != nil {
					errc <- fmt.Errorf("seed messages %d–%d: %w", lo, lo+len(b.Ops)-1, err)
					return
				}
				if n := done.Add(int64(len(b.Ops))); n%100_000 < int64(len(b.Ops)) {
					fmt.Fprintf(os.Stderr, "  %d messages (%.0f/s)\n", n, float64(n)/time.Since(startAt).Seconds())
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	return <-errc
}
