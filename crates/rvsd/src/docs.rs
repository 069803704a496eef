//! `rvsd gen-docs DIR` (hidden; for packaging): writes the man pages and the shell
//! completions generated from rvsd's own command-line definitions, so they never
//! drift from the options the binary takes. `scripts/deb.sh` runs it.
//!
//! DIR/rvsd.8, DIR/rvsd-realserver.8, DIR/completions/{rvsd.bash,_rvsd,rvsd.fish}.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory};
use clap_complete::Shell;

#[derive(Args, Debug)]
pub struct GenDocsArgs {
    /// Directory to write into (created if missing).
    pub out: PathBuf,
}

/// The man page's description.
const DESCRIPTION: &str = "rvsd is the rvs director: Linux Virtual Server (IPVS) in user space. \
It reads frames from the interfaces named with -i (the first faces the clients) through \
AF_PACKET rings, schedules each new connection to a real server of its virtual service with \
the IPVS schedulers, keeps a connection table, and forwards by NAT, IP-in-IP tunnelling or \
direct routing. It takes its table from rvsadm(8), which speaks ipvsadm's language, over a \
control socket, and installs nftables rules so that the kernel never answers or forwards \
what the director handles. With several workers, fanout steers both directions of a \
connection to one worker.";

/// What the generated sections cannot say: signals, files, the listener, see also.
const EXTRA: &str = r#".SH SIGNALS
.TP
\fBSIGTERM\fR, \fBSIGINT\fR
Stop: the workers finish, the control socket is removed and the nftables table
\fBrvsd\fR installed is deleted.
.TP
\fBSIGHUP\fR
Reload the configuration (\fBsystemctl reload rvsd\fR sends it).
.SH METRICS AND STATUS PAGE
With \fB\-\-metrics\-listen\fR [\fIADDR\fR] (off unless given; without \fIADDR\fR
127.0.0.1:9810) rvsd serves, read-only over HTTP:
.TP
\fB/metrics\fR
Prometheus text format. node_exporter's IPVS metrics with the same names and labels
(\fBnode_ipvs_connections_total\fR, \fBnode_ipvs_incoming_packets_total\fR,
\fBnode_ipvs_outgoing_packets_total\fR, \fBnode_ipvs_incoming_bytes_total\fR,
\fBnode_ipvs_outgoing_bytes_total\fR, \fBnode_ipvs_backend_connections_active\fR,
\fBnode_ipvs_backend_connections_inactive\fR, \fBnode_ipvs_backend_weight\fR), so
dashboards made for kernel IPVS work unchanged, and rvs's own under \fBrvs_\fR.
.TP
\fB/\fR
A status page of every virtual service and real server that refreshes itself.
.TP
\fB/status.json\fR
The same as JSON.
.PP
The address may not be a VIP or a wildcard (0.0.0.0, ::): use a loopback or
management address.
.SH FILES
.TP
\fI/run/rvsd/rvsd.sock\fR
The control socket \fBrvsadm\fR(8) talks to.
.TP
\fI/etc/default/rvsd\fR
Options for the systemd unit (\fBRVSD_OPTS\fR).
.TP
\fI/etc/rvs/keepalived.conf\fR
A sample configuration in keepalived's format.
.SH SEE ALSO
\fBrvsadm\fR(8), \fBipvsadm\fR(8), \fBkeepalived.conf\fR(5)
"#;

fn write_file(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    f.write_all(bytes)
}

fn man_page(cmd: clap::Command, extra: &str) -> io::Result<Vec<u8>> {
    let man = clap_mangen::Man::new(cmd).section("8").manual("rvs");
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    man.render_subcommands_section(&mut out)?;
    out.extend_from_slice(extra.as_bytes());
    man.render_version_section(&mut out)?;
    Ok(out)
}

/// Writes the pages and completions; the exit code.
pub fn generate(args: &GenDocsArgs) -> i32 {
    match write_all(&args.out) {
        Ok(files) => {
            for f in files {
                println!("{}", f.display());
            }
            0
        }
        Err(e) => {
            eprintln!("rvsd gen-docs {}: {e}", args.out.display());
            1
        }
    }
}

fn write_all(out: &Path) -> io::Result<Vec<PathBuf>> {
    let cmd = crate::Cli::command()
        .disable_help_subcommand(true)
        .long_about(DESCRIPTION);
    let completions = out.join("completions");
    std::fs::create_dir_all(&completions)?;
    let mut files = Vec::new();

    let main = out.join("rvsd.8");
    write_file(&main, &man_page(cmd.clone(), EXTRA)?)?;
    files.push(main);
    if let Some(sub) = cmd.find_subcommand("realserver") {
        let page = out.join("rvsd-realserver.8");
        let sub = sub
            .clone()
            .name("rvsd-realserver")
            .version(crate::observe::VERSION)
            .long_version(crate::observe::LONG_VERSION);
        write_file(&page, &man_page(sub, ".SH SEE ALSO\n\\fBrvsd\\fR(8)\n")?)?;
        files.push(page);
    }
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut c = cmd.clone();
        files.push(clap_complete::generate_to(
            shell,
            &mut c,
            "rvsd",
            &completions,
        )?);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn man_page_names_the_options_and_hides_gen_docs() {
        let cmd = crate::Cli::command().disable_help_subcommand(true);
        let page = String::from_utf8(man_page(cmd, EXTRA).unwrap()).unwrap();
        assert!(page.starts_with(".ie \\n(.g .ds Aq") || page.contains(".TH rvsd 8"));
        assert!(page.contains("metrics\\-listen"), "{page}");
        assert!(page.contains(".SH SIGNALS"));
        assert!(
            !page.contains("gen\\-docs"),
            "the packaging command stays hidden"
        );
    }

    #[test]
    fn writes_pages_and_completions() {
        let dir = std::env::temp_dir().join(format!("rvsd-gen-docs-{}", std::process::id()));
        let files = write_all(&dir).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "rvsd.8",
                "rvsd-realserver.8",
                "rvsd.bash",
                "_rvsd",
                "rvsd.fish"
            ]
        );
        let bash = std::fs::read_to_string(dir.join("completions/rvsd.bash")).unwrap();
        assert!(bash.contains("--metrics-listen"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
