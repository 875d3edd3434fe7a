package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
)

// JSONErrors wraps the listener a net/http server serves, so that the few
// errors net/http answers by itself, before any handler runs (a malformed
// request line or header, a bad Content-Length, headers over
// MaxHeaderBytes: 431, an unsupported Transfer-Encoding), are the API's
// {"detail": ...} JSON like every other error, not plain text.
//
// net/http writes those answers straight to the connection in one write,
// with exactly the headers Content-Type: text/plain and Connection: close and
// no Date; a handler's response always carries Date, so nothing a handler
// writes is ever mistaken for one. The connections keep their ReadFrom
// (sendfile) and CloseWrite.
func JSONErrors(l net.Listener) net.Listener { return jsonErrListener{l} }

type jsonErrListener struct{ net.Listener }

func (l jsonErrListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &jsonErrConn{Conn: c}, nil
}

type jsonErrConn struct{ net.Conn }

// builtinErrorHeaders is what net/http puts between its status line and
// body (net/http server.go, errorHeaders).
const builtinErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

func (c *jsonErrConn) Write(b []byte) (int, error) {
	if out, ok := jsonBuiltinError(b); ok {
		if _, err := c.Conn.Write(out); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return c.Conn.Write(b)
}

// jsonBuiltinError rewrites one of net/http's own error answers.
func jsonBuiltinError(b []byte) ([]byte, bool) {
	rest, ok := bytes.CutPrefix(b, []byte("HTTP/1.1 "))
	if !ok || len(rest) < 3 {
		return nil, false
	}
	i := bytes.Index(b, []byte(builtinErrorHeaders))
	if i < 0 || bytes.Contains(b[:i], []byte("\r\n")) {
		return nil, false // not the two-header shape: a handler's response
	}
	code, err := strconv.Atoi(string(rest[:3]))
	if err != nil || code < 400 || code > 599 {
		return nil, false
	}
	msg := string(b[i+len(builtinErrorHeaders):])
	if text, ok := bytes.CutPrefix([]byte(msg), []byte(strconv.Itoa(code)+" ")); ok {
		msg = string(text)
	}
	body, _ := json.Marshal(ErrorBody{Detail: msg})
	body = append(body, '\n')
	var out bytes.Buffer
	fmt.Fprintf(&out, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n", code, http.StatusText(code), len(body))
	out.Write(body)
	return out.Bytes(), true
}

// ReadFrom keeps net/http's sendfile path: TCPConn.ReadFrom.
func (c *jsonErrConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// CloseWrite lets net/http half-close as it does on a bare TCP conn.
func (c *jsonErrConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
