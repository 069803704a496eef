//! The real servers' HTTP service: one private nginx per server namespace, its
//! configuration, logs, pid file and temp paths in the server's own directory.
//!
//! - `GET /` answers the server's name (`rs1\n`);
//! - `GET /big` sends a large file (for drain tests); `/big?rate=100k` sends it at that
//!   rate (any nginx size: `500k`, `2m`);
//! - the access log (`access.log`) has one line per request:
//!   `$remote_addr $remote_port $server_addr:$server_port "$request" $status $body_bytes_sent`,
//!   so tests can assert which client address a server saw.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{LabError, Result};

/// Files of one nginx instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NginxFiles {
    /// The server's directory (nginx prefix).
    pub dir: PathBuf,
    pub config: PathBuf,
    pub pid_file: PathBuf,
    pub access_log: PathBuf,
    pub error_log: PathBuf,
}

impl NginxFiles {
    pub(crate) fn in_dir(dir: &Path) -> NginxFiles {
        NginxFiles {
            dir: dir.to_owned(),
            config: dir.join("nginx.conf"),
            pid_file: dir.join("nginx.pid"),
            access_log: dir.join("access.log"),
            error_log: dir.join("error.log"),
        }
    }

    /// The command that runs this instance in the foreground (the lab tracks its PID).
    pub(crate) fn command(&self) -> Vec<String> {
        vec![
            "nginx".to_owned(),
            "-p".to_owned(),
            format!("{}/", self.dir.display()),
            "-e".to_owned(),
            self.error_log.display().to_string(),
            "-c".to_owned(),
            self.config.display().to_string(),
        ]
    }
}

/// The configuration text of server `name` with its files under `files.dir`.
pub fn config_text(files: &NginxFiles, name: &str, ipv6: bool) -> String {
    let dir = files.dir.display();
    let listen6 = if ipv6 {
        "        listen [::]:80 default_server ipv6only=on backlog=4096;\n"
    } else {
        ""
    };
    format!(
        r#"# rvs lab real server {name}: written by rvs-lab, removed with the lab.
user root;
daemon off;
master_process on;
worker_processes 1;
pid {pid};
error_log {error_log} warn;
events {{ worker_connections 1024; }}
http {{
    default_type text/plain;
    sendfile on;
    keepalive_timeout 65s;
    log_format lab '$remote_addr $remote_port $server_addr:$server_port "$request" $status $body_bytes_sent';
    access_log {access_log} lab;
    client_body_temp_path {dir}/tmp/client_body;
    proxy_temp_path {dir}/tmp/proxy;
    fastcgi_temp_path {dir}/tmp/fastcgi;
    uwsgi_temp_path {dir}/tmp/uwsgi;
    scgi_temp_path {dir}/tmp/scgi;
    server {{
        listen 80 default_server backlog=4096;
{listen6}        root {dir}/www;
        location = / {{ return 200 "{name}\n"; }}
        location = /big {{
            if ($arg_rate) {{ set $limit_rate $arg_rate; }}
        }}
    }}
}}
"#,
        pid = files.pid_file.display(),
        error_log = files.error_log.display(),
        access_log = files.access_log.display(),
    )
}

/// Writes the configuration, the temp directories and the (sparse) `/big` file.
pub(crate) fn prepare(dir: &Path, name: &str, ipv6: bool, big_mib: u64) -> Result<NginxFiles> {
    let files = NginxFiles::in_dir(dir);
    for sub in ["tmp", "www"] {
        let d = dir.join(sub);
        fs::create_dir_all(&d).map_err(|e| LabError::io(d.display().to_string(), e))?;
    }
    let big = dir.join("www/big");
    let file = fs::File::create(&big).map_err(|e| LabError::io(big.display().to_string(), e))?;
    file.set_len(big_mib * 1024 * 1024)
        .map_err(|e| LabError::io(big.display().to_string(), e))?;
    fs::write(&files.config, config_text(&files, name, ipv6))
        .map_err(|e| LabError::io(files.config.display().to_string(), e))?;
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_keeps_everything_in_the_server_directory() {
        let files = NginxFiles::in_dir(Path::new("/tmp/lab/rs2"));
        let text = config_text(&files, "rs2", false);
        assert!(text.contains("pid /tmp/lab/rs2/nginx.pid;"));
        assert!(text.contains("access_log /tmp/lab/rs2/access.log lab;"));
        assert!(text.contains("return 200 \"rs2\\n\";"));
        assert!(text.contains("client_body_temp_path /tmp/lab/rs2/tmp/client_body;"));
        assert!(!text.contains("[::]"));
        let path_directives = ["pid ", "error_log ", "access_log ", "root "];
        for line in text.lines().map(str::trim) {
            if path_directives.iter().any(|d| line.starts_with(d)) || line.contains("_temp_path ") {
                assert!(
                    line.contains(" /tmp/lab/rs2/"),
                    "path outside the directory: {line}"
                );
            }
        }
        assert!(config_text(&files, "rs2", true).contains("listen [::]:80"));
        let cmd = files.command();
        assert_eq!(cmd[0], "nginx");
        assert!(cmd.contains(&"/tmp/lab/rs2/nginx.conf".to_owned()));
    }
}
