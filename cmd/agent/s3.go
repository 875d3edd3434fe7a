package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/openrescale/platform/shared/compute/agentspec"
	"github.com/openrescale/platform/shared/storagecreds"
)

// s3Client is the S3 client of the run. The SDK's default configuration
// applies (region, AWS_ENDPOINT_URL_S3, retries); in api mode (the
// default) its credentials are the platform's storage credentials for the
// run's own keys, refreshed before they expire.
func s3Client(ctx context.Context, getenv func(string) string, spec agentspec.Spec) (*s3.Client, error) {
	// The job definition should set AWS_REGION; an instance's metadata
	// says it otherwise (consulted only when nothing else does).
	opts := []func(*config.LoadOptions) error{config.WithEC2IMDSRegion()}
	switch mode := getenv("RESCALE_AGENT_S3_CREDENTIALS"); mode {
	case "", "api":
		p, err := newAPICredentials(spec, http.DefaultClient)
		if err != nil {
			return nil, err
		}
		opts = append(opts, config.WithCredentialsProvider(aws.NewCredentialsCache(p, func(o *aws.CredentialsCacheOptions) {
			// Uploads at the end of a long run must not start with
			// credentials about to lapse.
			o.ExpiryWindow = 5 * time.Minute
		})))
	case "environment":
	default:
		return nil, fmt.Errorf("RESCALE_AGENT_S3_CREDENTIALS must be api or environment, not %q", mode)
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("aws configuration: %w", err)
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		// An endpoint override is an S3-protocol server (tests: gofakes3),
		// which is addressed by path, not by bucket host name.
		o.UsePathStyle = o.BaseEndpoint != nil
	}), nil
}

// apiCredentials asks the platform for storage credentials (spec 000's
// POST /api/credentials/) with the job's own API key, for exactly the
// run's input objects and output prefix. The platform answers with STS
// session credentials whose session policy allows those keys only.
type apiCredentials struct {
	url    string // …/credentials/
	key    string
	paths  []string
	client *http.Client
}

// newAPICredentials needs the spec's RESCALE_API_URL and RESCALE_API_KEY.
// A run with more inputs than one request may name asks for its owner's
// whole storage directory instead (still only that user's keys).
func newAPICredentials(spec agentspec.Spec, client *http.Client) (*apiCredentials, error) {
	base, key := spec.Env["RESCALE_API_URL"], spec.Env["RESCALE_API_KEY"]
	if base == "" || key == "" {
		return nil, fmt.Errorf("S3 credentials from the API need RESCALE_API_URL and RESCALE_API_KEY in the spec's env")
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	paths := []string{spec.OutputPrefix}
	for _, in := range spec.Inputs {
		paths = append(paths, in.Key)
	}
	if len(paths) > storagecreds.MaxPaths {
		paths = nil
	}
	return &apiCredentials{url: base + "credentials/", key: key, paths: paths, client: client}, nil
}

// Retrieve implements aws.CredentialsProvider.
func (a *apiCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	type path struct {
		Path string `json:"path"`
	}
	body := struct {
		Paths []path `json:"paths,omitempty"`
	}{}
	for _, p := range a.paths {
		body.Paths = append(body.Paths, path{p})
	}
	b, err := json.Marshal(body)
	if err != nil {
		return aws.Credentials{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url, bytes.NewReader(b))
	if err != nil {
		return aws.Credentials{}, err
	}
	req.Header.Set("Authorization", "Token "+a.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("storage credentials: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("storage credentials: %w", err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		return aws.Credentials{}, fmt.Errorf("storage credentials: %s: %s", resp.Status, bytes.TrimSpace(raw))
	}
	var g storagecreds.Grant
	if err := json.Unmarshal(raw, &g); err != nil {
		return aws.Credentials{}, fmt.Errorf("storage credentials: %w", err)
	}
	if g.AccessKey == "" || g.SecretKey == "" {
		return aws.Credentials{}, fmt.Errorf("storage credentials: the answer holds no access key")
	}
	return aws.Credentials{AccessKeyID: g.AccessKey, SecretAccessKey: g.SecretKey, SessionToken: g.SessionToken,
		Source: "RescaleStorageCredentials", CanExpire: !g.Expiration.IsZero(), Expires: g.Expiration}, nil
}
