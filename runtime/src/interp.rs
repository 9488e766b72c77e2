//! The interpreted backend: the checked model evaluated at run time, for
//! the generic plugin that loads a model at start-up. It must read exactly
//! what generated code reads (the differential tests compare them).

use crate::cpu::Cpu;
use crate::eval::{self, Env};
use crate::os::{Backend, Entry, ExitValues, MAX_ARGS, Pattern};
use osm_model::{ErrorConvention, Model};

pub struct Interpreted {
    model: Model,
    spec: String,
    env: Env,
    entries: Vec<Pattern>,
    exits: Vec<(usize, Pattern)>,
    /// For each exit: its mechanism and its index within the mechanism.
    exit_refs: Vec<(usize, usize)>,
    /// For each table's calls, in order: what reading their arguments
    /// needs, worked out once rather than at every entry.
    shapes: Vec<Vec<CallShape>>,
}

/// How many argument registers a call reads, and whether any of its
/// arguments says where it is instead (`at (EXPR)`, rare).
#[derive(Clone, Copy)]
struct CallShape {
    registers: usize,
    located: bool,
}

/// Patterns live as long as the plugin: leaking them once gives the
/// `'static` slices the shared `Pattern` type holds.
fn leak_pattern(pattern: &osm_model::Pattern) -> Pattern {
    Pattern {
        bytes: Box::leak(pattern.bytes.to_vec().into_boxed_slice()),
        mask: Box::leak(pattern.mask.to_vec().into_boxed_slice()),
        at: pattern.at,
    }
}

impl Interpreted {
    pub fn new(model: Model, spec: &str) -> Self {
        let entries = model
            .mechanisms
            .iter()
            .map(|m| leak_pattern(&m.entry))
            .collect();
        let mut exits = Vec::new();
        let mut exit_refs = Vec::new();
        for (mi, m) in model.mechanisms.iter().enumerate() {
            for (ei, exit) in m.exits.iter().enumerate() {
                exits.push((mi, leak_pattern(&exit.pattern)));
                exit_refs.push((mi, ei));
            }
        }
        let shapes = model
            .tables
            .iter()
            .map(|t| {
                t.syscalls
                    .iter()
                    .map(|s| CallShape {
                        registers: s.registers(),
                        located: s.args.iter().any(|p| p.location.is_some()),
                    })
                    .collect()
            })
            .collect();
        Interpreted {
            env: Env::new(model.endian),
            spec: spec.to_string(),
            model,
            entries,
            exits,
            exit_refs,
            shapes,
        }
    }
}

impl Backend for Interpreted {
    fn spec(&self) -> &str {
        &self.spec
    }

    fn registers(&self) -> Vec<&str> {
        self.model
            .registers
            .iter()
            .map(|r| r.name.as_str())
            .collect()
    }

    fn entries(&self) -> &[Pattern] {
        &self.entries
    }

    fn exits(&self) -> &[(usize, Pattern)] {
        &self.exits
    }

    fn applies<C: Cpu + ?Sized>(&self, mechanism: usize, insn: u64, cpu: &C) -> bool {
        match self
            .model
            .mechanisms
            .get(mechanism)
            .and_then(|m| m.when.as_ref())
        {
            Some(when) => eval::eval(when, cpu, &self.env.with_insn(insn)).is_some_and(|v| v != 0),
            None => true,
        }
    }

    fn entry<C: Cpu + ?Sized>(
        &self,
        mechanism: usize,
        insn: u64,
        cpu: &C,
        entry: &mut Entry,
    ) -> Option<()> {
        let mech = self.model.mechanisms.get(mechanism)?;
        entry.number = eval::eval(&mech.number, cpu, &self.env.with_insn(insn))?;
        entry.thread = eval::eval(&mech.thread, cpu, &self.env)?;
        entry.process = eval::eval(&mech.process, cpu, &self.env)?;
        entry.called_from = match &mech.called_from {
            Some(e) => Some(eval::eval(e, cpu, &self.env)?),
            None => None,
        };
        entry.returns_to = match &mech.returns_to {
            Some(e) => Some(eval::eval(e, cpu, &self.env)?),
            None => None,
        };
        entry.table = mech.table.0;
        entry.args.clear();
        let table = &self.model.tables[mech.table.0 as usize];
        entry.syscall = table
            .syscalls
            .binary_search_by_key(&entry.number, |s| s.number)
            .ok();
        // As generated code does: a known call's own arguments, an unknown
        // one's fixed locations.
        let shape = entry
            .syscall
            .and_then(|i| self.shapes[mech.table.0 as usize].get(i));
        let count = shape.map_or(mech.args.len(), |s| s.registers);
        let syscall = entry
            .syscall
            .filter(|_| shape.is_some_and(|s| s.located))
            .map(|i| &table.syscalls[i]);
        let located = |i: usize| {
            let s = syscall?;
            let at = s.param_registers().position(|r| r == i)?;
            s.args[at].location.as_ref()
        };
        for i in 0..count.min(MAX_ARGS) {
            let value = match located(i) {
                Some(location) => eval::eval(location, cpu, &self.env),
                None => eval::arg_value(mech, i, cpu, self.model.endian),
            };
            entry.args.set(i, value);
        }
        Some(())
    }

    fn exit<C: Cpu + ?Sized>(&self, exit: usize, cpu: &C) -> Option<ExitValues> {
        let &(mi, ei) = self.exit_refs.get(exit)?;
        let mech = &self.model.mechanisms[mi];
        Some(ExitValues {
            resume: eval::eval(&mech.exits[ei].resume, cpu, &self.env)?,
            thread: eval::eval(&mech.thread, cpu, &self.env)?,
            process: eval::eval(&mech.process, cpu, &self.env)?,
            ret: eval::eval(&mech.ret, cpu, &self.env),
            error_flag: match &mech.error {
                ErrorConvention::Flag(e) => eval::eval(e, cpu, &self.env),
                _ => None,
            },
        })
    }
}
