package main
import (
 _ "github.com/cockroachdb/pebble"
 _ "golang.org/x/crypto/bcrypt"
 _ "golang.org/x/crypto/argon2"
 _ "github.com/prometheus/client_golang/prometheus"
 _ "github.com/prometheus/client_golang/prometheus/promhttp"
 _ "gopkg.in/yaml.v3"
 _ "github.com/gorilla/websocket"
)
func main(){}
