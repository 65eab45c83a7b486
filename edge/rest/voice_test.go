package rest

import "testing"

// TestVoiceRegions: GET /voice/regions lists the deployment's region as
// Discord's voice region object; the guild's list is for members only.
func TestVoiceRegions(t *testing.T) {
	h := newHarness(t)
	alice, mallory := h.user("alice"), h.user("mallory")
	gid, _, _ := h.guild(alice)
	for _, path := range []string{"/voice/regions", "/guilds/" + gid + "/regions"} {
		regions := h.must(200, h.do("GET", path, alice.Token, nil)).Arr()
		if len(regions) != 1 {
			t.Fatalf("%s: %v", path, regions)
		}
		r := regions[0].(map[string]any)
		if r["id"] != "local" || r["name"] != "local" || r["optimal"] != true || r["deprecated"] != false || r["custom"] != true {
			t.Errorf("%s: %v", path, r)
		}
	}
	h.wantErr(h.do("GET", "/voice/regions", "", nil), 401, 0)
	h.wantErr(h.do("GET", "/guilds/"+gid+"/regions", mallory.Token, nil), 404, 10004)
}
