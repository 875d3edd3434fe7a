package client

import "encoding/json"

// File is a file record (GET /api/v2/files/{id}/), the fields this package
// reads; Raw is the whole object.
type File struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	RelativePath string `json:"relativePath"`
	Path         string `json:"path"`
	TypeID       int    `json:"typeId"`
	Size         int64  `json:"decryptedSize"`
	MD5          string `json:"md5"`
	DateUploaded string `json:"dateUploaded"`
	DownloadURL  string `json:"downloadUrl"`
	IsUploaded   bool   `json:"isUploaded"`
	IsDeleted    bool   `json:"isDeleted"`
	Owner        string `json:"owner"`

	Raw json.RawMessage `json:"-"`
}

func (f *File) UnmarshalJSON(b []byte) error {
	type plain File
	if err := json.Unmarshal(b, (*plain)(f)); err != nil {
		return err
	}
	f.Raw = keep(b)
	return nil
}

func (f File) MarshalJSON() ([]byte, error) {
	if f.Raw != nil {
		return f.Raw, nil
	}
	type plain File
	return json.Marshal(plain(f))
}

// Label is the {content, labelClass, useLabel} shape of a listed job's
// statuses.
type Label struct {
	Content string `json:"content"`
}

// JobSummary is an item of GET /api/v2/jobs/.
type JobSummary struct {
	ID                   string   `json:"id"`
	Name                 string   `json:"name"`
	DateInserted         string   `json:"dateInserted"`
	Owner                string   `json:"owner"`
	AnalysisNames        []string `json:"analysisNames"`
	JobStatus            Label    `json:"jobStatus"`
	ClusterStatusDisplay Label    `json:"clusterStatusDisplay"`
	Storage              int64    `json:"storage"`

	Raw json.RawMessage `json:"-"`
}

func (j *JobSummary) UnmarshalJSON(b []byte) error {
	type plain JobSummary
	if err := json.Unmarshal(b, (*plain)(j)); err != nil {
		return err
	}
	j.Raw = keep(b)
	return nil
}

func (j JobSummary) MarshalJSON() ([]byte, error) {
	if j.Raw != nil {
		return j.Raw, nil
	}
	type plain JobSummary
	return json.Marshal(plain(j))
}

// Job is a job (GET /api/v2/jobs/{id}/); Raw is the whole object.
type Job struct {
	ID           string `json:"id"`
	Name         string `json:"name"`
	DateInserted string `json:"dateInserted"`
	JobStatus    Label  `json:"jobStatus"`

	Raw json.RawMessage `json:"-"`
}

func (j *Job) UnmarshalJSON(b []byte) error {
	type plain Job
	if err := json.Unmarshal(b, (*plain)(j)); err != nil {
		return err
	}
	j.Raw = keep(b)
	return nil
}

func (j Job) MarshalJSON() ([]byte, error) {
	if j.Raw != nil {
		return j.Raw, nil
	}
	type plain Job
	return json.Marshal(plain(j))
}

// Job statuses the client acts on.
const (
	StatusExecuting = "Executing"
	StatusCompleted = "Completed"
	// ReasonSuccess is the statusReason of a job that succeeded; a failed
	// one also ends Completed, with another reason.
	ReasonSuccess = "Completed successfully"
)

// Status is an entry of a job's statuses/ (or cluster_statuses/).
type Status struct {
	ID     string  `json:"id"`
	Status string  `json:"status"`
	Date   string  `json:"statusDate"`
	Reason *string `json:"statusReason"`

	Raw json.RawMessage `json:"-"`
}

// ReasonText is the reason, "" when there is none.
func (s Status) ReasonText() string {
	if s.Reason == nil {
		return ""
	}
	return *s.Reason
}

func (s *Status) UnmarshalJSON(b []byte) error {
	type plain Status
	if err := json.Unmarshal(b, (*plain)(s)); err != nil {
		return err
	}
	s.Raw = keep(b)
	return nil
}

func (s Status) MarshalJSON() ([]byte, error) {
	if s.Raw != nil {
		return s.Raw, nil
	}
	type plain Status
	return json.Marshal(plain(s))
}

// Run is an item of GET /api/v2/jobs/{id}/runs/.
type Run struct {
	ID              string  `json:"id"`
	DateStarted     *string `json:"dateStarted"`
	DateCompleted   *string `json:"dateCompleted"`
	OutputFileCount int     `json:"outputFileCount"`
	OutputFileSize  int64   `json:"outputFileSize"`

	Raw json.RawMessage `json:"-"`
}

func (r *Run) UnmarshalJSON(b []byte) error {
	type plain Run
	if err := json.Unmarshal(b, (*plain)(r)); err != nil {
		return err
	}
	r.Raw = keep(b)
	return nil
}

func (r Run) MarshalJSON() ([]byte, error) {
	if r.Raw != nil {
		return r.Raw, nil
	}
	type plain Run
	return json.Marshal(plain(r))
}

// Tail is a running run's file's last lines.
type Tail struct {
	FileType string   `json:"fileType"`
	Lines    []string `json:"lines"`
}
