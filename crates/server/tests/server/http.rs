//! A small blocking HTTP client for the tests that use real sockets.

use std::time::Duration;

use crate::samples::{self, Samples};

/// How long one request may take. Generous: a guard against hangs, not a measurement.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// An HTTP answer.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The body as text (lossy).
    pub body: String,
}

/// A blocking client for `http://<host:port>`. Cloning is shallow.
#[derive(Debug, Clone)]
pub struct Http {
    base: String,
    agent: ureq::Agent,
}

impl Http {
    /// A client of `http://<addr>`.
    pub fn new(addr: impl std::fmt::Display) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(REQUEST_TIMEOUT))
            .http_status_as_error(false)
            .build()
            .new_agent();
        Self {
            base: format!("http://{addr}"),
            agent,
        }
    }

    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn reply(
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Reply, String> {
        let mut response = result.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())?;
        Ok(Reply { status, body })
    }

    /// `PUT` (or `POST`) a text body to `/metrics/<key>`; `Err` when the connection failed.
    pub fn push(&self, method: &str, key: &str, body: &str) -> Result<Reply, String> {
        let url = self.url(&format!("/metrics/{key}"));
        let result = match method {
            "PUT" => self.agent.put(&url).send(body),
            "POST" => self.agent.post(&url).send(body),
            other => return Err(format!("not a push method: {other}")),
        };
        Self::reply(result)
    }

    /// `POST /api/v1/write` with a remote_write 1.0 body (snappy-compressed protobuf,
    /// e.g. from `remote_write::proto::encode_body`) and the headers Prometheus sends.
    pub fn remote_write(&self, body: &[u8]) -> Result<Reply, String> {
        Self::reply(
            self.agent
                .post(&self.url("/api/v1/write"))
                .header("Content-Encoding", "snappy")
                .header("Content-Type", "application/x-protobuf")
                .header("X-Prometheus-Remote-Write-Version", "0.1.0")
                .send(body),
        )
    }

    /// `DELETE /metrics/<key>`.
    pub fn delete(&self, key: &str) -> Result<Reply, String> {
        Self::reply(
            self.agent
                .delete(&self.url(&format!("/metrics/{key}")))
                .call(),
        )
    }

    /// `GET <path>`.
    pub fn get(&self, path: &str) -> Result<Reply, String> {
        Self::reply(self.agent.get(&self.url(path)).call())
    }

    /// `GET <path>`, which must answer 200.
    #[track_caller]
    pub fn get_ok(&self, path: &str) -> String {
        match self.get(path) {
            Ok(r) if r.status == 200 => r.body,
            other => panic!("GET {path}: {other:?}"),
        }
    }

    /// The aggregated view's samples (`/metrics` without `tally_*`).
    #[track_caller]
    pub fn aggregated(&self) -> Samples {
        samples::pushed_samples(self.get_ok("/metrics").as_bytes())
    }

    /// The per-group view's samples (`/metrics/groups`).
    #[track_caller]
    pub fn groups(&self) -> Samples {
        samples::flatten(&samples::parse_text(
            self.get_ok("/metrics/groups").as_bytes(),
        ))
    }
}
