// Package config is Accord's configuration: defaults, then a YAML file
// (unknown keys rejected), then ACCORD_* environment variables, then
// command-line flags, then Validate.
package config

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is everything a node needs to start.
type Config struct {
	// Listen is the address for HTTP: REST, gateway, web client.
	Listen string `yaml:"listen"`
	// MetricsListen, when set, is a listener of its own for /metrics (and
	// /debug/pprof with ACCORD_DEBUG_PPROF=1); the public listener then
	// serves neither. When empty they are on Listen, for loopback clients
	// that came through no proxy, or with MetricsToken.
	MetricsListen string `yaml:"metrics_listen"`
	// MetricsToken lets a scraper that is not local read /metrics on
	// Listen: "Authorization: Bearer <token>".
	MetricsToken string `yaml:"metrics_token"`
	// AttachmentKey (hex, at least 32 bytes) signs attachment URLs; every
	// node of a region must have the same. Empty: a key kept in
	// Data/attachment.key, made on first start (right for a node alone).
	AttachmentKey string `yaml:"attachment_key"`
	// CDNURL, when set, is a separate origin for user files (a name that
	// reaches the same nodes): attachment URLs use it and the API's origin
	// serves no file, so nothing uploaded can run as the site.
	CDNURL string `yaml:"cdn_url"`
	// MaxUploadMiB bounds the files of one message, in MiB (Discord's
	// default: 10). A larger upload is refused with 413 (code 40005).
	MaxUploadMiB int `yaml:"max_upload_mib"`
	// Data is the directory for the embedded store and attachments.
	Data string `yaml:"data"`
	// PublicURL is how clients reach this node; derived from Listen when
	// empty.
	PublicURL string `yaml:"public_url"`
	// RateLimits is "on" (Discord's limits) or "off" (load tests).
	RateLimits string `yaml:"rate_limits"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// Store selects the store backend: "embedded" (Pebble under Data) or
	// "cassandra".
	Store string `yaml:"store"`
	// Cassandra configures the "cassandra" backend.
	Cassandra Cassandra `yaml:"cassandra"`
	// NodeID distinguishes the snowflakes of nodes (0–1023).
	NodeID int `yaml:"node_id"`
	// HeartbeatInterval is the gateway's HELLO interval (Discord: 41.25 s).
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// Region places the node in its region's Raft groups. A node alone
	// (no join) is a region of one: single-voter groups, same code.
	Region Region `yaml:"region"`
	// Voice is the node's voice gateway, SFU and TURN server.
	Voice Voice `yaml:"voice"`
	// PublicTLS is the operator's certificate for Listen (REST, the
	// gateway, voice, files): with it Listen speaks TLS only. Without it
	// Listen answers plain HTTP and TLS alike, the latter with a
	// self-signed certificate kept in Data/tls/public.pem (Discord's
	// libraries dial the voice endpoint over wss://).
	PublicTLS TLSFiles `yaml:"public_tls"`
}

// Voice configures media. The defaults put everything on Listen's host:
// WebRTC on Listen's port number over UDP, TURN on 3478 (or on any free
// port when Listen's port is 0, as in tests).
type Voice struct {
	// UDP is the one UDP address all of the node's WebRTC media uses
	// (default: Listen).
	UDP string `yaml:"udp"`
	// PublicIPs are announced to clients instead of the sockets' own
	// addresses, for a node behind 1:1 NAT.
	PublicIPs []string `yaml:"public_ips"`
	// TURN is the embedded TURN server's address, UDP and TCP (default:
	// Listen's host, port 3478, or 0 when Listen's is); "off" runs none
	// (clients then need a direct path or a TURN server of their own).
	TURN string `yaml:"turn"`
	// TURNSecretFile holds the TURN REST secret the region's nodes and
	// standalone `accord turn` servers share; empty: one derived from
	// the attachment key (right when every TURN server is a node).
	TURNSecretFile string `yaml:"turn_secret_file"`
}

// Region is this node's membership in a region's Raft groups.
type Region struct {
	// Name of the region ("local").
	Name string `yaml:"name"`
	// RaftAddr is the node's internal listener: Raft, membership admin
	// and requests forwarded to shard leaders, all over mutual TLS.
	// Default 127.0.0.1:0, which suits only a node alone.
	RaftAddr string `yaml:"raft_addr"`
	// Advertise is the address other nodes dial; default RaftAddr.
	Advertise string `yaml:"advertise"`
	// Shards is the number of Raft groups guilds are hashed onto (16).
	// Every node of a region must use the same number.
	Shards int `yaml:"shards"`
	// Join lists the internal addresses of existing members. Empty: this
	// node starts a new region (it bootstraps its groups).
	Join []string `yaml:"join"`
	// TLS files for the internal listener. Empty: a development CA and
	// certificate are created under data/tls (fine for a node alone).
	TLS TLSFiles `yaml:"tls"`
}

// TLSFiles names PEM files.
type TLSFiles struct {
	CA   string `yaml:"ca"`
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Cassandra is the connection to the core's Cassandra cluster.
type Cassandra struct {
	// Hosts are contact points ("127.0.0.1" or "host:9042").
	Hosts []string `yaml:"hosts"`
	// DC is this region's datacenter: queries go to its nodes and
	// LOCAL_QUORUM counts its replicas.
	DC string `yaml:"dc"`
	// Keyspace holds Accord's tables ("accord").
	Keyspace string `yaml:"keyspace"`
	// Replication is the replication factor per datacenter, used when the
	// keyspace is created (NetworkTopologyStrategy). Default: 1 in DC.
	Replication map[string]int `yaml:"replication"`
	// Consistency of reads and writes (LOCAL_QUORUM).
	Consistency string `yaml:"consistency"`
}

// Default is the single-process configuration.
func Default() Config {
	return Config{
		Listen:     "127.0.0.1:8080",
		Data:       "./accord-data",
		RateLimits: "on",
		LogLevel:   "info",

		MaxUploadMiB: 10,
		Store:        "embedded",
		Region:       Region{Name: "local", RaftAddr: "127.0.0.1:0", Shards: 16},

		HeartbeatInterval: 41250 * time.Millisecond,
	}
}

// Load builds the configuration from args (without the program name and
// subcommand) and the environment.
func Load(args []string, getenv func(string) string) (Config, error) {
	cfg := Default()
	fs := flag.NewFlagSet("accord", flag.ContinueOnError)
	fs.SetOutput(&bytes.Buffer{})
	file := fs.String("config", getenv("ACCORD_CONFIG"), "YAML configuration file")
	listen := fs.String("listen", "", "where REST, the gateway and the web client listen (default 127.0.0.1:8080)")
	data := fs.String("data", "", "directory of the store, Raft logs and attachments (default ./accord-data)")
	public := fs.String("public-url", "", "the URL clients reach this node at (default http:// and --listen)")
	metrics := fs.String("metrics-listen", "", "a listener of its own for /metrics (default: on --listen, loopback only)")
	cdn := fs.String("cdn-url", "", "a separate origin for user files, e.g. https://files.example.org")
	maxUpload := fs.Int("max-upload-mib", 0, "largest upload of one message, in MiB (default 10, as Discord)")
	rl := fs.String("rate-limits", "", "Discord's rate limits (default on; off for load tests only)")
	level := fs.String("log-level", "", "least level logged (default info)")
	st := fs.String("store", "", "the store (default embedded: Pebble under --data)")
	cHosts := fs.String("cassandra-hosts", "", "Cassandra contact points, comma-separated")
	cDC := fs.String("cassandra-dc", "", "this region's Cassandra datacenter")
	cKS := fs.String("cassandra-keyspace", "", "Cassandra keyspace (default accord)")
	cRepl := fs.String("cassandra-replication", "", "replication per datacenter for a new keyspace, e.g. dc1:3,dc2:3")
	node := fs.Int("node-id", -1, "node ID for snowflakes (0-1023)")
	hb := fs.Duration("heartbeat-interval", 0, "gateway heartbeat interval (default 41.25s)")
	region := fs.String("region", "", "the region's name (default local)")
	raftAddr := fs.String("raft-addr", "", "internal listener for Raft, admin and forwarding (default 127.0.0.1:0)")
	advertise := fs.String("advertise", "", "internal address other nodes dial (default --raft-addr)")
	shards := fs.Int("shards", 0, "Raft groups per region (default 16)")
	join := fs.String("join", "", "internal addresses of region members to join, comma-separated")
	tlsCA := fs.String("tls-ca", "", "the region CA's certificate, for the internal listener")
	tlsCert := fs.String("tls-cert", "", "this node's certificate, for the internal listener")
	tlsKey := fs.String("tls-key", "", "this node's key, for the internal listener")
	publicCert := fs.String("public-cert", "", "certificate (PEM) for --listen: TLS only (default: plain and TLS with a development certificate)")
	publicKey := fs.String("public-key", "", "key (PEM) of --public-cert")
	voiceUDP := fs.String("voice-udp", "", "UDP address of all WebRTC media (default: --listen's host and port)")
	publicIPs := fs.String("public-ips", "", "IPs announced for media and TURN behind 1:1 NAT, comma-separated")
	turnAddr := fs.String("turn", "", "embedded TURN server's UDP and TCP address, or off (default: --listen's host, port 3478)")
	turnSecret := fs.String("turn-secret-file", "", "the region's TURN secret, shared with accord turn servers")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return cfg, &HelpError{Flags: FlagDocs(fs)}
		}
		return cfg, fmt.Errorf("%w (accord COMMAND --help lists the flags)", err)
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *file != "" {
		raw, err := os.ReadFile(*file)
		if err != nil {
			return cfg, fmt.Errorf("read config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
			return cfg, fmt.Errorf("config %s: %w", *file, err)
		}
	}
	env := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	env("ACCORD_LISTEN", &cfg.Listen)
	env("ACCORD_DATA", &cfg.Data)
	env("ACCORD_PUBLIC_URL", &cfg.PublicURL)
	env("ACCORD_METRICS_LISTEN", &cfg.MetricsListen)
	env("ACCORD_METRICS_TOKEN", &cfg.MetricsToken)
	env("ACCORD_ATTACHMENT_KEY", &cfg.AttachmentKey)
	env("ACCORD_CDN_URL", &cfg.CDNURL)
	env("ACCORD_RATE_LIMITS", &cfg.RateLimits)
	env("ACCORD_LOG_LEVEL", &cfg.LogLevel)
	env("ACCORD_STORE", &cfg.Store)
	env("ACCORD_CASSANDRA_DC", &cfg.Cassandra.DC)
	env("ACCORD_CASSANDRA_KEYSPACE", &cfg.Cassandra.Keyspace)
	if v := getenv("ACCORD_CASSANDRA_HOSTS"); v != "" {
		cfg.Cassandra.Hosts = splitList(v)
	}
	if v := getenv("ACCORD_CASSANDRA_REPLICATION"); v != "" {
		r, err := parseReplication(v)
		if err != nil {
			return cfg, fmt.Errorf("ACCORD_CASSANDRA_REPLICATION: %w", err)
		}
		cfg.Cassandra.Replication = r
	}
	if v := getenv("ACCORD_MAX_UPLOAD_MIB"); v != "" {
		if _, err := fmt.Sscanf(v, "%d", &cfg.MaxUploadMiB); err != nil {
			return cfg, fmt.Errorf("ACCORD_MAX_UPLOAD_MIB: %q is not a number", v)
		}
	}
	if v := getenv("ACCORD_NODE_ID"); v != "" {
		if _, err := fmt.Sscanf(v, "%d", &cfg.NodeID); err != nil {
			return cfg, fmt.Errorf("ACCORD_NODE_ID: %q is not a number", v)
		}
	}
	env("ACCORD_REGION", &cfg.Region.Name)
	env("ACCORD_RAFT_ADDR", &cfg.Region.RaftAddr)
	if v := getenv("ACCORD_JOIN"); v != "" {
		cfg.Region.Join = splitList(v)
	}
	set := func(v string, dst *string) {
		if v != "" {
			*dst = v
		}
	}
	set(*listen, &cfg.Listen)
	set(*data, &cfg.Data)
	set(*public, &cfg.PublicURL)
	set(*metrics, &cfg.MetricsListen)
	set(*cdn, &cfg.CDNURL)
	set(*rl, &cfg.RateLimits)
	set(*level, &cfg.LogLevel)
	set(*st, &cfg.Store)
	set(*cDC, &cfg.Cassandra.DC)
	set(*cKS, &cfg.Cassandra.Keyspace)
	if *cHosts != "" {
		cfg.Cassandra.Hosts = splitList(*cHosts)
	}
	if *cRepl != "" {
		r, err := parseReplication(*cRepl)
		if err != nil {
			return cfg, fmt.Errorf("--cassandra-replication: %w", err)
		}
		cfg.Cassandra.Replication = r
	}
	if cfg.Cassandra.Keyspace == "" {
		cfg.Cassandra.Keyspace = "accord"
	}
	if cfg.Cassandra.Replication == nil && cfg.Cassandra.DC != "" {
		cfg.Cassandra.Replication = map[string]int{cfg.Cassandra.DC: 1}
	}
	if *node >= 0 {
		cfg.NodeID = *node
	}
	if *maxUpload != 0 {
		cfg.MaxUploadMiB = *maxUpload
	}
	if *hb != 0 {
		cfg.HeartbeatInterval = *hb
	}
	set(*region, &cfg.Region.Name)
	set(*raftAddr, &cfg.Region.RaftAddr)
	set(*advertise, &cfg.Region.Advertise)
	set(*tlsCA, &cfg.Region.TLS.CA)
	set(*tlsCert, &cfg.Region.TLS.Cert)
	set(*tlsKey, &cfg.Region.TLS.Key)
	if *shards != 0 {
		cfg.Region.Shards = *shards
	}
	if *join != "" {
		cfg.Region.Join = splitList(*join)
	}
	env("ACCORD_VOICE_UDP", &cfg.Voice.UDP)
	env("ACCORD_TURN", &cfg.Voice.TURN)
	env("ACCORD_TURN_SECRET_FILE", &cfg.Voice.TURNSecretFile)
	if v := getenv("ACCORD_PUBLIC_IPS"); v != "" {
		cfg.Voice.PublicIPs = splitList(v)
	}
	env("ACCORD_PUBLIC_CERT", &cfg.PublicTLS.Cert)
	env("ACCORD_PUBLIC_KEY", &cfg.PublicTLS.Key)
	set(*publicCert, &cfg.PublicTLS.Cert)
	set(*publicKey, &cfg.PublicTLS.Key)
	set(*voiceUDP, &cfg.Voice.UDP)
	set(*turnAddr, &cfg.Voice.TURN)
	set(*turnSecret, &cfg.Voice.TURNSecretFile)
	if *publicIPs != "" {
		cfg.Voice.PublicIPs = splitList(*publicIPs)
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://" + cfg.Listen
		if cfg.PublicTLS.Cert != "" {
			cfg.PublicURL = "https://" + cfg.Listen
		}
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	return cfg, cfg.Validate()
}

// HelpError is what Load returns for --help (or -h): the flags it knows,
// for the command to print with its own help. It matches flag.ErrHelp.
type HelpError struct{ Flags []FlagDoc }

func (e *HelpError) Error() string { return "help requested" }

// Is makes errors.Is(err, flag.ErrHelp) hold.
func (e *HelpError) Is(target error) bool { return target == flag.ErrHelp }

// FlagDoc describes one flag.
type FlagDoc struct {
	Name, Arg, Usage, Default string
}

// flagArgs names what each flag takes, for help texts.
var flagArgs = map[string]string{
	"config": "FILE", "listen": "HOST:PORT", "data": "DIR", "public-url": "URL", "metrics-listen": "HOST:PORT",
	"cdn-url": "URL", "max-upload-mib": "N", "rate-limits": "on|off", "log-level": "debug|info|warn|error",
	"store": "embedded|cassandra", "cassandra-hosts": "HOSTS", "cassandra-dc": "DC", "cassandra-keyspace": "NAME",
	"cassandra-replication": "DC:N,...", "node-id": "N", "region": "NAME", "raft-addr": "HOST:PORT",
	"advertise": "HOST:PORT", "shards": "N", "join": "HOST:PORT,...", "tls-ca": "PEM", "tls-cert": "PEM",
	"tls-key": "PEM", "public-cert": "PEM", "public-key": "PEM", "via": "HOST:PORT", "id": "ID", "addr": "HOST:PORT", "dir": "DIR",
}

// FlagDocs describes the flags of fs.
func FlagDocs(fs *flag.FlagSet) []FlagDoc {
	var out []FlagDoc
	fs.VisitAll(func(f *flag.Flag) {
		arg, usage := flag.UnquoteUsage(f)
		if a, ok := flagArgs[f.Name]; ok {
			arg = a
		} else if a, ok := map[string]string{"string": "VALUE", "int": "N", "duration": "DURATION"}[arg]; ok {
			arg = a
		}
		d := FlagDoc{Name: f.Name, Arg: arg, Usage: usage}
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "-1" && f.DefValue != "0s" {
			d.Default = f.DefValue
		}
		out = append(out, d)
	})
	return out
}

// FormatFlags lays flags out for a help text, spelled --name as the README
// spells them; with only given, just those flags, in that order.
func FormatFlags(docs []FlagDoc, only ...string) string {
	if len(only) > 0 {
		byName := map[string]FlagDoc{}
		for _, d := range docs {
			byName[d.Name] = d
		}
		docs = docs[:0:0]
		for _, n := range only {
			if d, ok := byName[n]; ok {
				docs = append(docs, d)
			}
		}
	}
	var b strings.Builder
	for _, d := range docs {
		head := "  --" + d.Name
		if d.Arg != "" {
			head += " " + d.Arg
		}
		usage := d.Usage
		if d.Default != "" {
			usage += " (default " + d.Default + ")"
		}
		fmt.Fprintf(&b, "%-38s %s\n", head, usage)
	}
	return b.String()
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen: %q is not host:port", c.Listen))
	}
	if c.MetricsListen != "" {
		if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
			errs = append(errs, fmt.Errorf("metrics_listen: %q is not host:port", c.MetricsListen))
		}
	}
	if c.MaxUploadMiB < 1 || c.MaxUploadMiB > 1024 {
		errs = append(errs, fmt.Errorf("max_upload_mib: %d is not between 1 and 1024", c.MaxUploadMiB))
	}
	if c.Data == "" {
		errs = append(errs, errors.New("data: must not be empty"))
	}
	if c.CDNURL != "" {
		if u, err := url.Parse(c.CDNURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("cdn_url: %q must be an absolute http(s) URL", c.CDNURL))
		}
	}
	if c.AttachmentKey != "" {
		if k, err := hex.DecodeString(c.AttachmentKey); err != nil || len(k) < 32 {
			errs = append(errs, errors.New("attachment_key: must be at least 32 bytes, in hex (openssl rand -hex 32)"))
		}
	}
	switch c.RateLimits {
	case "on", "off":
	default:
		errs = append(errs, fmt.Errorf("rate_limits: %q must be on or off", c.RateLimits))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level: %q must be debug, info, warn or error", c.LogLevel))
	}
	switch c.Store {
	case "embedded":
	case "cassandra":
		if len(c.Cassandra.Hosts) == 0 {
			errs = append(errs, errors.New("cassandra.hosts: needed with store cassandra"))
		}
		if c.Cassandra.DC == "" {
			errs = append(errs, errors.New("cassandra.dc: needed with store cassandra"))
		}
	default:
		errs = append(errs, fmt.Errorf("store: %q is not a known backend (embedded, cassandra)", c.Store))
	}
	if c.HeartbeatInterval < 100*time.Millisecond || c.HeartbeatInterval > 10*time.Minute {
		errs = append(errs, fmt.Errorf("heartbeat_interval: %s must be between 100ms and 10m", c.HeartbeatInterval))
	}
	if c.NodeID < 0 || c.NodeID > 1023 {
		errs = append(errs, fmt.Errorf("node_id: %d must be between 0 and 1023", c.NodeID))
	}
	if _, _, err := net.SplitHostPort(c.Region.RaftAddr); err != nil {
		errs = append(errs, fmt.Errorf("region.raft_addr: %q is not host:port", c.Region.RaftAddr))
	}
	if c.Region.Shards < 1 || c.Region.Shards > 256 {
		errs = append(errs, fmt.Errorf("region.shards: %d must be between 1 and 256", c.Region.Shards))
	}
	if t := c.Region.TLS; (t.CA != "" || t.Cert != "" || t.Key != "") && (t.CA == "" || t.Cert == "" || t.Key == "") {
		errs = append(errs, errors.New("region.tls: ca, cert and key go together"))
	}
	if t := c.PublicTLS; (t.Cert == "") != (t.Key == "") || t.CA != "" {
		errs = append(errs, errors.New("public_tls: cert and key go together (and take no ca)"))
	}
	if len(c.Region.Join) > 0 && c.Region.TLS.CA == "" {
		errs = append(errs, errors.New("region.tls: a node joining a region needs the region's CA, certificate and key"))
	}
	if len(c.Region.Join) > 0 && c.Store == "embedded" {
		errs = append(errs, errors.New("store: the nodes of a region share the core's store; use cassandra with join"))
	}
	if _, _, err := net.SplitHostPort(c.Voice.UDP); c.Voice.UDP != "" && err != nil {
		errs = append(errs, fmt.Errorf("voice.udp: %q is not host:port", c.Voice.UDP))
	}
	if _, _, err := net.SplitHostPort(c.Voice.TURN); c.Voice.TURN != "" && c.Voice.TURN != "off" && err != nil {
		errs = append(errs, fmt.Errorf("voice.turn: %q is not host:port or off", c.Voice.TURN))
	}
	for _, ip := range c.Voice.PublicIPs {
		if net.ParseIP(ip) == nil {
			errs = append(errs, fmt.Errorf("voice.public_ips: %q is not an IP address", ip))
		}
	}
	if !strings.HasPrefix(c.PublicURL, "http://") && !strings.HasPrefix(c.PublicURL, "https://") {
		errs = append(errs, fmt.Errorf("public_url: %q must start with http:// or https://", c.PublicURL))
	}
	return errors.Join(errs...)
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseReplication reads "dc1:3,dc2:3".
func parseReplication(v string) (map[string]int, error) {
	out := map[string]int{}
	for _, p := range splitList(v) {
		dc, n, ok := strings.Cut(p, ":")
		rf, err := strconv.Atoi(n)
		if !ok || dc == "" || err != nil || rf < 1 {
			return nil, fmt.Errorf("%q is not dc:factor", p)
		}
		out[dc] = rf
	}
	return out, nil
}
