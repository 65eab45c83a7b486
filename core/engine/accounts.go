package engine

import (
	"slices"
	"sync"

	"github.com/accord-chat/accord/core/model"
	"github.com/accord-chat/accord/core/store"
)

// accounts is the node-wide directory: users by ID and login, the guilds
// each user is in, DM channels by their pair of users. It is an index over
// committed ops, rebuilt from the store at start.
type accounts struct {
	mu      sync.RWMutex
	wmu     sync.Mutex // serializes account writes (register, rename)
	users   map[ID]*model.User
	byLogin map[string]ID
	guilds  map[ID]map[ID]struct{} // user → guilds
	dms     map[[2]ID]ID           // sorted user pair → DM channel
	dmByID  map[ID]*model.Channel
	userDMs map[ID][]ID // user → DM channels
}

func (a *accounts) init() {
	a.users = map[ID]*model.User{}
	a.byLogin = map[string]ID{}
	a.guilds = map[ID]map[ID]struct{}{}
	a.dms = map[[2]ID]ID{}
	a.dmByID = map[ID]*model.Channel{}
	a.userDMs = map[ID][]ID{}
}

func loginKey(username string) string { return model.LoginKey(username) }

func (a *accounts) putUser(u *model.User) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if old := a.users[u.ID]; old != nil && !old.Bot && loginKey(old.Username) != loginKey(u.Username) {
		delete(a.byLogin, loginKey(old.Username))
	}
	a.users[u.ID] = u
	if !u.Bot { // bots cannot log in and may share names
		a.byLogin[loginKey(u.Username)] = u.ID
	}
}

func (a *accounts) apply(op store.Op) {
	if op.Kind == store.OpPutUser {
		a.putUser(op.User)
	}
}

func (a *accounts) join(userID, guildID ID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	set := a.guilds[userID]
	if set == nil {
		set = map[ID]struct{}{}
		a.guilds[userID] = set
	}
	set[guildID] = struct{}{}
}

func (a *accounts) leave(userID, guildID ID) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.guilds[userID], guildID)
}

func dmKey(a, b ID) [2]ID {
	if a > b {
		a, b = b, a
	}
	return [2]ID{a, b}
}

func (a *accounts) putDM(c *model.Channel) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.dmByID[c.ID]; !ok && len(c.Recipients) == 2 {
		a.dms[dmKey(c.Recipients[0], c.Recipients[1])] = c.ID
		for _, u := range c.Recipients {
			a.userDMs[u] = append(a.userDMs[u], c.ID)
		}
	}
	a.dmByID[c.ID] = c
}

// User returns a user by ID.
func (e *Engine) User(id ID) *model.User {
	e.acct.mu.RLock()
	defer e.acct.mu.RUnlock()
	return e.acct.users[id]
}

// UserByLogin returns a user by username, ignoring case.
func (e *Engine) UserByLogin(name string) *model.User {
	e.acct.mu.RLock()
	defer e.acct.mu.RUnlock()
	return e.acct.users[e.acct.byLogin[loginKey(name)]]
}

// Users looks up several users; unknown IDs are skipped.
func (e *Engine) Users(ids []ID) []*model.User {
	e.acct.mu.RLock()
	defer e.acct.mu.RUnlock()
	out := make([]*model.User, 0, len(ids))
	for _, id := range ids {
		if u := e.acct.users[id]; u != nil {
			out = append(out, u)
		}
	}
	return out
}

// dmAllowed reports whether a DM's recipients may message each other:
// as on Discord (which also allows friends, which Accord does not have),
// only while they share a guild, bots included.
func (e *Engine) dmAllowed(dm *model.Channel) bool {
	if len(dm.Recipients) != 2 {
		return true
	}
	e.acct.mu.RLock()
	defer e.acct.mu.RUnlock()
	a, b := e.acct.guilds[dm.Recipients[0]], e.acct.guilds[dm.Recipients[1]]
	if len(b) < len(a) {
		a, b = b, a
	}
	for g := range a {
		if _, ok := b[g]; ok {
			return true
		}
	}
	return false
}

// UserGuilds returns the IDs of the guilds a user is in, ascending.
func (e *Engine) UserGuilds(userID ID) []ID {
	e.acct.mu.RLock()
	out := make([]ID, 0, len(e.acct.guilds[userID]))
	for g := range e.acct.guilds[userID] {
		out = append(out, g)
	}
	e.acct.mu.RUnlock()
	slices.Sort(out)
	return out
}

// InGuild reports whether the user is a member of the guild.
func (e *Engine) InGuild(userID, guildID ID) bool {
	e.acct.mu.RLock()
	defer e.acct.mu.RUnlock()
	_, ok := e.acct.guilds[userID][guildID]
	return ok
}

// UserDMs returns the user's DM channels.
func (e *Engine) UserDMs(userID ID) []*model.Channel {
	e.acct.mu.RLock()
	ids := slices.Clone(e.acct.userDMs[userID])
	e.acct.mu.RUnlock()
	out := make([]*model.Channel, 0, len(ids))
	for _, id := range ids {
		if c := e.DMChannel(id); c != nil {
			out = append(out, c)
		}
	}
	return out
}
