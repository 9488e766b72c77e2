//! The final pass: the checked model, only when no pass reported an
//! error, with its registers numbered by name.

use super::Checker;
use super::identity::Identity;
use super::types::Types;
use crate::model::{self, Expr, Model, RegId};
use std::collections::BTreeSet;

/// What the passes built.
pub(super) struct Checked<'a> {
    pub(super) name: String,
    pub(super) classes: BTreeSet<String>,
    pub(super) types: Types<'a>,
    pub(super) errnos: Vec<model::Errno>,
    pub(super) identity: Identity,
    pub(super) tables: Vec<model::Table>,
    pub(super) mechanisms: Vec<Option<model::Mechanism>>,
    pub(super) task: Option<model::Task>,
    pub(super) signal: Option<model::Signal>,
}

impl Checker<'_> {
    pub(super) fn finish(&mut self, errors_before: usize, checked: Checked<'_>) -> Option<Model> {
        let Checked {
            name,
            classes,
            types,
            errnos,
            identity,
            tables,
            mechanisms,
            task,
            signal,
        } = checked;
        if self.diags.list.len() > errors_before {
            return None;
        }
        let arch = self.arch?;
        let mut model = Model {
            name,
            arch: arch.arch,
            bits: self.bits,
            endian: self.endian,
            registers: Vec::new(),
            thread: identity.thread?,
            process: identity.process?,
            mechanisms: mechanisms.into_iter().collect::<Option<Vec<_>>>()?,
            tables,
            flag_sets: types.flag_sets,
            enums: types.enums,
            errnos,
            classes: classes.into_iter().collect(),
            // Without errors every structure and union checked.
            structs: types.structs.into_iter().flatten().collect(),
            unions: types.unions.into_iter().flatten().collect(),
            kernel: std::mem::take(&mut self.kernel),
            task,
            signal,
        };
        self.number_registers(&mut model);
        Some(model)
    }

    /// Renumbers registers by name so the model does not depend on the order
    /// in which expressions were checked.
    fn number_registers(&mut self, model: &mut Model) {
        let mut sorted: Vec<(String, u32)> = self.used_regs.clone();
        sorted.sort();
        let remap: Vec<RegId> = self
            .used_regs
            .iter()
            .map(|r| RegId(sorted.iter().position(|s| s == r).expect("same set") as u32))
            .collect();
        model.registers = sorted
            .into_iter()
            .map(|(name, bits)| model::Register { name, bits })
            .collect();
        let mut fix = |e: &mut Expr| remap_regs(e, &remap);
        fix(&mut model.thread);
        fix(&mut model.process);
        if let Some(task) = &mut model.task {
            task.exprs_mut().for_each(&mut fix);
        }
        if let Some(signal) = &mut model.signal {
            signal.exprs_mut().for_each(&mut fix);
        }
        for m in &mut model.mechanisms {
            m.exprs_mut().for_each(&mut fix);
        }
        let params = model.tables.iter_mut().flat_map(|t| &mut t.syscalls);
        for p in params.flat_map(|s| &mut s.args) {
            if let Some(location) = &mut p.location {
                fix(location);
            }
        }
    }
}

fn remap_regs(expr: &mut Expr, remap: &[RegId]) {
    match expr {
        Expr::Reg(id) => *id = remap[id.0 as usize],
        Expr::Const(_) | Expr::ArgIndex | Expr::Kernel(_) | Expr::Current | Expr::InsnAddr => {}
        Expr::Load { addr, .. } => remap_regs(addr, remap),
        Expr::Unary(_, e) => remap_regs(e, remap),
        Expr::Binary(_, a, b) | Expr::Fallback(a, b) => {
            remap_regs(a, remap);
            remap_regs(b, remap);
        }
        Expr::Insn => {}
        Expr::Cond(c, a, b) => {
            remap_regs(c, remap);
            remap_regs(a, remap);
            remap_regs(b, remap);
        }
    }
}
