//! keepalived.conf: lexing (with includes and parameters), the statement
//! tree, and the top-level dispatch to the section parsers.

mod check;
mod ctx;
mod global;
pub(crate) mod lexer;
mod lvs;
pub(crate) mod tree;
mod vrrp;

use std::path::Path;

use crate::error::ConfigError;
use crate::keywords::section as sec;
use crate::model::{Format, GlobalDefs, LoadedConfig};
use crate::source::SourceLoader;
use crate::LoadOptions;

use ctx::Ctx;

pub(crate) fn parse(
    loader: &dyn SourceLoader,
    path: &Path,
    text: Option<&str>,
    opts: &LoadOptions,
) -> Result<LoadedConfig, ConfigError> {
    let lexed = lexer::lex(loader, path, text, opts)?;
    let items = tree::build(&lexed.toks, &lexed.files)?;
    let mut ctx = Ctx::new(lexed.files);
    let mut global = GlobalDefs::default();
    let mut raw_vs = Vec::new();
    let mut groups: Vec<crate::model::VirtualServerGroup> = Vec::new();
    let mut raw_vrrp = Vec::new();
    let mut sync_groups: Vec<crate::model::VrrpSyncGroup> = Vec::new();
    let mut scripts = Vec::new();
    for st in &items {
        match st.keyword() {
            "global_defs" => global::global_defs(&mut ctx, &mut global, st)?,
            "SSL" => global::ssl(&mut ctx, &mut global, st)?,
            "virtual_server_group" => {
                let g = lvs::virtual_server_group(&mut ctx, st)?;
                if groups.iter().any(|o| o.name == g.name) {
                    return Err(ctx.err(
                        st.pos(),
                        format!("duplicate virtual_server_group {}", g.name),
                    ));
                }
                groups.push(g);
            }
            "virtual_server" => raw_vs.push(lvs::virtual_server(&mut ctx, st)?),
            "vrrp_instance" => raw_vrrp.push(vrrp::vrrp_instance(&mut ctx, st)?),
            "vrrp_sync_group" => {
                let g = vrrp::vrrp_sync_group(&mut ctx, st)?;
                if sync_groups.iter().any(|o| o.name == g.name) {
                    return Err(ctx.err(st.pos(), format!("duplicate vrrp_sync_group {}", g.name)));
                }
                sync_groups.push(g);
            }
            "vrrp_script" => scripts.push(vrrp::vrrp_script(&mut ctx, st)?),
            _ => ctx.other(&[sec::TOP], st)?,
        }
    }
    let virtual_servers = lvs::resolve_all(&mut ctx, raw_vs, &groups, &global)?;
    let vrrp_instances = vrrp::finish(&mut ctx, raw_vrrp, &sync_groups, &scripts, &global)?;
    Ok(LoadedConfig {
        source: Format::Keepalived,
        files: ctx.files.distinct(),
        global,
        virtual_servers,
        virtual_server_groups: groups,
        vrrp_instances,
        vrrp_sync_groups: sync_groups,
        vrrp_scripts: scripts,
        unknown: ctx.unknown,
        warnings: ctx.warnings,
    })
}
