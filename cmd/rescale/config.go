package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"gopkg.in/ini.v1"
)

// DefaultAPIURL is used when neither a flag, the environment nor the
// config file names one: a local `rescale-local serve`.
const DefaultAPIURL = "http://127.0.0.1:8080"

// Config is where the API is and the key to it.
type Config struct {
	APIURL string
	APIKey string
	// Source names where the key came from, for error messages.
	Source string
}

// configPath is Rescale's own tools' config file.
func configPath(home string) string {
	return filepath.Join(home, ".config", "rescale", "apiconfig")
}

// LoadConfig resolves the configuration: flags first, then the
// environment (RESCALE_API_URL, RESCALE_API_KEY), then the config file's
// profile section (INI: apikey, apiurl; apibaseurl is read as apiurl). A
// missing config file is not an error unless it was named explicitly.
func LoadConfig(flagURL, flagKey, file, profile string, explicitFile bool, getenv func(string) string) (Config, error) {
	c := Config{APIURL: flagURL, APIKey: flagKey, Source: "--api-key"}
	if c.APIURL == "" {
		c.APIURL = getenv("RESCALE_API_URL")
	}
	if c.APIKey == "" {
		c.APIKey, c.Source = getenv("RESCALE_API_KEY"), "RESCALE_API_KEY"
	}
	if c.APIURL == "" || c.APIKey == "" {
		fc, err := readConfigFile(file, profile)
		switch {
		case errors.Is(err, fs.ErrNotExist) && !explicitFile:
		case err != nil:
			return c, err
		default:
			if c.APIURL == "" {
				c.APIURL = fc.APIURL
			}
			if c.APIKey == "" {
				c.APIKey, c.Source = fc.APIKey, file
			}
		}
	}
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	if c.APIKey == "" {
		return c, fmt.Errorf("no API key: pass --api-key, set RESCALE_API_KEY, or write apikey = … under [%s] in %s", profile, file)
	}
	return c, nil
}

func readConfigFile(path, profile string) (Config, error) {
	if _, err := os.Stat(path); err != nil {
		return Config{}, err
	}
	f, err := ini.Load(path)
	if err != nil {
		return Config{}, fmt.Errorf("config file %s: %w", path, err)
	}
	sec := f.Section(profile)
	if !f.HasSection(profile) {
		if profile != "default" {
			return Config{}, fmt.Errorf("config file %s has no [%s] section", path, profile)
		}
		sec = f.Section(ini.DefaultSection) // keys before any section
	}
	c := Config{APIKey: sec.Key("apikey").String(), APIURL: sec.Key("apiurl").String()}
	if c.APIURL == "" {
		c.APIURL = sec.Key("apibaseurl").String()
	}
	return c, nil
}
