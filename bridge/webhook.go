package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zwamp/zwamp/client"
)

// Webhook POSTs every event of one subscription to URL as JSON:
// {"topic", "publication", "args", "kwargs", "details"}.
type Webhook struct {
	Topic string
	// Match is the subscription's match policy: "" (exact), "prefix" or
	// "wildcard".
	Match string
	URL   string
	// Queue bounds the events waiting for delivery (default 1024); an event
	// that finds it full is dropped and counted.
	Queue int
	// Retries is how many times a failed POST (a transport error or a 5xx
	// answer) is tried again, with doubling backoff from 100 ms (default 3).
	Retries int
	// Timeout bounds one POST (default 10 s).
	Timeout time.Duration
}

// WebhookStats counts one webhook's deliveries.
type WebhookStats struct {
	URL                        string
	Delivered, Dropped, Failed int64
}

// hook runs one webhook: the subscription's handler queues events without
// blocking the session's reader, one goroutine delivers them in order.
type hook struct {
	cfg   Webhook
	log   *slog.Logger
	queue chan []byte
	http  *http.Client
	ctx   context.Context
	stopF context.CancelFunc
	wg    sync.WaitGroup

	delivered, dropped, failed atomic.Int64
}

func startHook(c *client.Client, cfg Webhook, log *slog.Logger) (*hook, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("url %q: want an absolute http:// or https:// URL", cfg.URL)
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 1024
	}
	if cfg.Retries < 0 {
		return nil, fmt.Errorf("retries %d: want ≥ 0", cfg.Retries)
	}
	if cfg.Retries == 0 {
		cfg.Retries = 3
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	h := &hook{cfg: cfg, log: log, queue: make(chan []byte, cfg.Queue), http: &http.Client{Timeout: cfg.Timeout}}
	h.ctx, h.stopF = context.WithCancel(context.Background())
	if _, err := c.Subscribe(cfg.Topic, h.onEvent, &client.SubscribeOptions{Match: cfg.Match}); err != nil {
		return nil, fmt.Errorf("subscribe %q: %w", cfg.Topic, err)
	}
	h.wg.Add(1)
	go h.run()
	return h, nil
}

func (h *hook) onEvent(ev *client.Event) {
	topic := ev.Topic
	if topic == "" {
		topic = h.cfg.Topic
	}
	body, err := json.Marshal(map[string]any{
		"topic": topic, "publication": ev.Publication, "args": orEmpty(ev.Args),
		"kwargs": orEmptyMap(ev.Kwargs), "details": orEmptyMap(ev.Details),
	})
	if err != nil {
		h.failed.Add(1)
		return
	}
	select {
	case h.queue <- body:
	default:
		h.dropped.Add(1)
	}
}

func (h *hook) run() {
	defer h.wg.Done()
	for {
		select {
		case <-h.ctx.Done():
			return
		case body := <-h.queue:
			if h.deliver(body) {
				h.delivered.Add(1)
			} else {
				h.failed.Add(1)
			}
		}
	}
}

// deliver POSTs one event, retrying transport errors and 5xx answers; a
// 4xx answer is final (the receiver refuses this event).
func (h *hook) deliver(body []byte) bool {
	backoff := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(h.ctx, http.MethodPost, h.cfg.URL, bytes.NewReader(body))
		if err != nil {
			return false
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := h.http.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 300 {
				return true
			}
			if resp.StatusCode < 500 {
				h.log.Warn("webhook refused an event", "url", h.cfg.URL, "status", resp.StatusCode)
				return false
			}
		}
		if attempt >= h.cfg.Retries {
			h.log.Warn("webhook delivery failed", "url", h.cfg.URL, "attempts", attempt+1, "error", err)
			return false
		}
		select {
		case <-h.ctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff *= 2
	}
}

func (h *hook) stop() {
	h.stopF()
	h.wg.Wait()
}

func (h *hook) stats() WebhookStats {
	return WebhookStats{URL: h.cfg.URL, Delivered: h.delivered.Load(), Dropped: h.dropped.Load(), Failed: h.failed.Load()}
}
