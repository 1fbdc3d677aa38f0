package main

import "errors"

// reloader prepares one part of a reload from the new config: it checks
// everything and returns commit, which applies it and cannot fail. A
// reload applies the commits only if every reloader succeeded, so a bad
// config changes nothing.
type reloader func(c *Config) (commit func(), err error)

// reloadConfig re-reads path on SIGHUP and applies what can change without
// dropping sessions: roles and permissions, authentication principals and
// the listeners' TLS certificates (serve's reloaders). Listeners, limits and the realm list need a
// restart; changes to them are not applied.
func reloadConfig(path string, reloaders []reloader) error {
	if path == "" {
		return errors.New("no --config file to reload")
	}
	c, err := loadConfig(path)
	if err != nil {
		return err
	}
	commits := make([]func(), 0, len(reloaders))
	for _, r := range reloaders {
		commit, err := r(c)
		if err != nil {
			return err
		}
		commits = append(commits, commit)
	}
	for _, commit := range commits {
		commit()
	}
	return nil
}
