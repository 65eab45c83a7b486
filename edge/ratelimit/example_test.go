package ratelimit_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/accord-chat/accord/edge/ratelimit"
)

func Example() {
	clock := time.Unix(1_700_000_000, 0)
	lim, err := ratelimit.New(ratelimit.DefaultConfig(), func() time.Time { return clock })
	if err != nil {
		panic(err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /channels/{channel_id}/messages", func(w http.ResponseWriter, r *http.Request) {
		// Identity would come from the Authorization header; r.Pattern is the
		// route template.
		d := lim.Allow("bot-1", r.Pattern, ratelimit.Major(r))
		d.WriteHeaders(w.Header())
		if !d.Allowed {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write(d.Body())
			return
		}
		w.WriteHeader(http.StatusOK)
	})

	for range 6 {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("POST", "/channels/42/messages", nil))
		fmt.Printf("%d remaining=%s", rec.Code, rec.Header().Get("X-RateLimit-Remaining"))
		if rec.Code == http.StatusTooManyRequests {
			fmt.Printf(" Retry-After=%s %s", rec.Header().Get("Retry-After"), rec.Body)
		}
		fmt.Println()
	}
	// Output:
	// 200 remaining=4
	// 200 remaining=3
	// 200 remaining=2
	// 200 remaining=1
	// 200 remaining=0
	// 429 remaining=0 Retry-After=5 {"message":"You are being rate limited.","retry_after":5.000,"global":false}
}
