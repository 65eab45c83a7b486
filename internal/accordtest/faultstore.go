package accordtest

import (
	"context"
	"sync"
	"time"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/store"
)

// Call describes one store operation, for a Fault to match: the method
// and whatever keys it has (zero when it has none).
type Call struct {
	Method    string // "GetMessage", "ListMessages", "Commit", ...
	ChannelID store.ID
	MessageID store.ID
	Batch     *store.Batch // Commit and CommitAsync
}

// Fault is what a FaultStore does to the calls it matches: wait Latency,
// then, while held, wait for Release, then fail with Err (if set) instead
// of calling the store. Set the fields before Inject; Hold and Release
// may be used at any time.
type Fault struct {
	// Methods limits the fault to these methods; empty means all.
	Methods []string
	// Match, when set, must accept the call too.
	Match   func(Call) bool
	Latency time.Duration
	Err     error

	mu    sync.Mutex
	held  chan struct{} // non-nil while held; closed by Release
	calls int
}

// Hold makes matching calls wait until Release (or their context ends).
func (f *Fault) Hold() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held == nil {
		f.held = make(chan struct{})
	}
}

// Release lets held calls go on.
func (f *Fault) Release() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held != nil {
		close(f.held)
		f.held = nil
	}
}

// Calls is how many calls the fault has matched.
func (f *Fault) Calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

func (f *Fault) matches(c Call) bool {
	if len(f.Methods) > 0 {
		found := false
		for _, m := range f.Methods {
			found = found || m == c.Method
		}
		if !found {
			return false
		}
	}
	return f.Match == nil || f.Match(c)
}

// apply runs the fault on a matching call; a non-nil error is the call's.
func (f *Fault) apply(ctx context.Context) error {
	f.mu.Lock()
	f.calls++
	held := f.held
	f.mu.Unlock()
	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
	if held != nil {
		select {
		case <-held:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return f.Err
}

// FaultStore wraps a store.Store and injects errors, latency and stalls
// into chosen operations (after pebble's errorfs): tests of what the rest
// of the system does when the core is slow or failing. It passes
// CommitAsync through to a store that has it.
type FaultStore struct {
	store.Store
	mu     sync.Mutex
	faults []*Fault
}

// NewFaultStore wraps st; with no fault injected it is st.
func NewFaultStore(st store.Store) *FaultStore { return &FaultStore{Store: st} }

// Inject adds a fault; remove takes it away (and releases it).
func (s *FaultStore) Inject(f *Fault) (remove func()) {
	s.mu.Lock()
	s.faults = append(s.faults, f)
	s.mu.Unlock()
	return func() {
		f.Release()
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, g := range s.faults {
			if g == f {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
				return
			}
		}
	}
}

func (s *FaultStore) check(ctx context.Context, c Call) error {
	s.mu.Lock()
	var hit []*Fault
	for _, f := range s.faults {
		if f.matches(c) {
			hit = append(hit, f)
		}
	}
	s.mu.Unlock()
	for _, f := range hit {
		if err := f.apply(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (s *FaultStore) Commit(ctx context.Context, b *store.Batch) error {
	if err := s.check(ctx, Call{Method: "Commit", Batch: b}); err != nil {
		return err
	}
	return s.Store.Commit(ctx, b)
}

// CommitAsync is the inner store's, or a synchronous Commit.
func (s *FaultStore) CommitAsync(ctx context.Context, b *store.Batch) (func() error, error) {
	if err := s.check(ctx, Call{Method: "CommitAsync", Batch: b}); err != nil {
		return nil, err
	}
	if a, ok := s.Store.(store.AsyncCommitter); ok {
		return a.CommitAsync(ctx, b)
	}
	return nil, s.Store.Commit(ctx, b)
}

func (s *FaultStore) GetUser(ctx context.Context, id store.ID) (*model.User, error) {
	if err := s.check(ctx, Call{Method: "GetUser"}); err != nil {
		return nil, err
	}
	return s.Store.GetUser(ctx, id)
}

func (s *FaultStore) GetCredentials(ctx context.Context, login string) (*model.Credentials, error) {
	if err := s.check(ctx, Call{Method: "GetCredentials"}); err != nil {
		return nil, err
	}
	return s.Store.GetCredentials(ctx, login)
}

func (s *FaultStore) GetToken(ctx context.Context, hash []byte) (*model.Token, error) {
	if err := s.check(ctx, Call{Method: "GetToken"}); err != nil {
		return nil, err
	}
	return s.Store.GetToken(ctx, hash)
}

func (s *FaultStore) GetApplication(ctx context.Context, id store.ID) (*model.Application, error) {
	if err := s.check(ctx, Call{Method: "GetApplication"}); err != nil {
		return nil, err
	}
	return s.Store.GetApplication(ctx, id)
}

func (s *FaultStore) GetInvite(ctx context.Context, code string) (*model.Invite, error) {
	if err := s.check(ctx, Call{Method: "GetInvite"}); err != nil {
		return nil, err
	}
	return s.Store.GetInvite(ctx, code)
}

func (s *FaultStore) GetMessage(ctx context.Context, channelID, messageID store.ID) (*model.Message, error) {
	if err := s.check(ctx, Call{Method: "GetMessage", ChannelID: channelID, MessageID: messageID}); err != nil {
		return nil, err
	}
	return s.Store.GetMessage(ctx, channelID, messageID)
}

func (s *FaultStore) ListMessages(ctx context.Context, channelID store.ID, q store.MessageQuery) ([]*model.Message, error) {
	if err := s.check(ctx, Call{Method: "ListMessages", ChannelID: channelID}); err != nil {
		return nil, err
	}
	return s.Store.ListMessages(ctx, channelID, q)
}

func (s *FaultStore) ListPins(ctx context.Context, channelID store.ID) ([]*model.Message, error) {
	if err := s.check(ctx, Call{Method: "ListPins", ChannelID: channelID}); err != nil {
		return nil, err
	}
	return s.Store.ListPins(ctx, channelID)
}

func (s *FaultStore) ListReactionUsers(ctx context.Context, channelID, messageID store.ID, emoji string, after store.ID, limit int) ([]store.ID, error) {
	if err := s.check(ctx, Call{Method: "ListReactionUsers", ChannelID: channelID, MessageID: messageID}); err != nil {
		return nil, err
	}
	return s.Store.ListReactionUsers(ctx, channelID, messageID, emoji, after, limit)
}

func (s *FaultStore) HasReaction(ctx context.Context, channelID, messageID store.ID, emoji string, userID store.ID) (bool, error) {
	if err := s.check(ctx, Call{Method: "HasReaction", ChannelID: channelID, MessageID: messageID}); err != nil {
		return false, err
	}
	return s.Store.HasReaction(ctx, channelID, messageID, emoji, userID)
}

func (s *FaultStore) LatestMessageID(ctx context.Context, channelID store.ID) (store.ID, error) {
	if err := s.check(ctx, Call{Method: "LatestMessageID", ChannelID: channelID}); err != nil {
		return 0, err
	}
	return s.Store.LatestMessageID(ctx, channelID)
}

var (
	_ store.Store          = (*FaultStore)(nil)
	_ store.AsyncCommitter = (*FaultStore)(nil)
)
