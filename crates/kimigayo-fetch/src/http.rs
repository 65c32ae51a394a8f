//! Upstream URLs over HTTP(S): bounded retries with backoff, clear messages on failure.

use std::io::Read;
use std::time::Duration;

pub(crate) fn get(url: &str) -> Result<Box<dyn Read + Send + Sync>, String> {
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(10))
        .timeout_read(Duration::from_secs(60))
        .user_agent("kimigayo-fetch/0.1")
        .build();
    let mut last = String::new();
    for attempt in 0..3u32 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(250 << attempt));
        }
        match agent.get(url).call() {
            Ok(resp) => return Ok(Box::new(resp.into_reader())),
            // A definite answer from the server is not retried.
            Err(ureq::Error::Status(code, _)) => return Err(format!("HTTP {code}")),
            Err(e) => last = e.to_string(),
        }
    }
    Err(format!("{last} (3 attempts)"))
}
