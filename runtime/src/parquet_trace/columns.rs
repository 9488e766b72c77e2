//! The table's schema and its columns as they fill up, one row group at a
//! time: each leaf column keeps its values with the definition and
//! repetition levels Parquet stores beside them.

#[cfg(test)]
use parquet::basic::Type as PhysicalType;
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, Int32Type, Int64Type};
use parquet::errors::Result;
use parquet::file::writer::SerializedRowGroupWriter;
use parquet::schema::parser::parse_message_type;
use parquet::schema::types::Type;
use std::borrow::Cow;
use std::io::Write;

/// One row per call. Identities and raw values are unsigned 64-bit numbers
/// stored in int64 columns marked unsigned; `args` is a list of structures
/// (`args[1].text` in DuckDB).
pub const SCHEMA: &str = "message osmtrace_calls {
  required binary event (STRING);
  required int32 vcpu (INTEGER(32,false));
  required int64 thread (INTEGER(64,false));
  required int64 process (INTEGER(64,false));
  optional int64 pid;
  optional int64 tid;
  optional int64 ppid;
  optional binary comm (STRING);
  required int64 nr;
  required binary name (STRING);
  optional group classes (LIST) {
    repeated group list {
      required binary element (STRING);
    }
  }
  optional int64 ts;
  optional int64 exit_ts;
  optional int64 duration;
  required boolean unfinished;
  optional group args (LIST) {
    repeated group list {
      required group element {
        required binary name (STRING);
        required binary type (STRING);
        optional int64 value (INTEGER(64,false));
        required binary text (STRING);
        required binary dir (STRING);
        required boolean hidden;
        required boolean unreadable;
      }
    }
  }
  optional int64 ret;
  optional int64 ret_raw (INTEGER(64,false));
  optional binary ret_text (STRING);
  optional binary error (STRING);
  optional int32 errno;
  optional int64 entry_thread (INTEGER(64,false));
  optional int64 entry_process (INTEGER(64,false));
  optional int64 status;
}";

pub fn schema() -> Type {
    parse_message_type(SCHEMA).expect("the table's schema parses")
}

#[derive(Debug)]
enum Values {
    Bool(Vec<bool>),
    Int32(Vec<i32>),
    Int64(Vec<i64>),
    Bytes(Vec<ByteArray>),
}

/// A leaf column of the row group being filled.
#[derive(Debug)]
struct Leaf {
    values: Values,
    def: Vec<i16>,
    rep: Vec<i16>,
    /// Whether levels are stored: the column is optional or in a list.
    levels: bool,
}

impl Leaf {
    fn new(values: Values, levels: bool) -> Self {
        Leaf {
            values,
            def: Vec::new(),
            rep: Vec::new(),
            levels,
        }
    }

    fn bytes() -> Self {
        Leaf::new(Values::Bytes(Vec::new()), false)
    }

    fn int64() -> Self {
        Leaf::new(Values::Int64(Vec::new()), false)
    }

    fn levels(mut self) -> Self {
        self.levels = true;
        self
    }

    fn level(&mut self, def: i16, rep: i16) {
        if self.levels {
            self.def.push(def);
            self.rep.push(rep);
        }
    }

    fn push_bool(&mut self, v: bool) {
        if let Values::Bool(vs) = &mut self.values {
            vs.push(v);
        }
    }

    fn push_i32(&mut self, v: i32) {
        if let Values::Int32(vs) = &mut self.values {
            vs.push(v);
        }
    }

    fn push_i64(&mut self, v: i64) {
        if let Values::Int64(vs) = &mut self.values {
            vs.push(v);
        }
    }

    fn push_str(&mut self, v: &str) -> usize {
        if let Values::Bytes(vs) = &mut self.values {
            vs.push(ByteArray::from(v));
        }
        v.len()
    }

    #[cfg(test)]
    fn physical(&self) -> PhysicalType {
        match self.values {
            Values::Bool(_) => PhysicalType::BOOLEAN,
            Values::Int32(_) => PhysicalType::INT32,
            Values::Int64(_) => PhysicalType::INT64,
            Values::Bytes(_) => PhysicalType::BYTE_ARRAY,
        }
    }

    fn clear(&mut self) {
        self.def.clear();
        self.rep.clear();
        match &mut self.values {
            Values::Bool(v) => v.clear(),
            Values::Int32(v) => v.clear(),
            Values::Int64(v) => v.clear(),
            Values::Bytes(v) => v.clear(),
        }
    }

    fn write<W: Write + Send>(&self, rg: &mut SerializedRowGroupWriter<'_, W>) -> Result<()> {
        let mut column = rg.next_column()?.expect("a writer per leaf of the schema");
        let (def, rep) = if self.levels {
            (Some(&self.def[..]), Some(&self.rep[..]))
        } else {
            (None, None)
        };
        match &self.values {
            Values::Bool(v) => column.typed::<BoolType>().write_batch(v, def, rep)?,
            Values::Int32(v) => column.typed::<Int32Type>().write_batch(v, def, rep)?,
            Values::Int64(v) => column.typed::<Int64Type>().write_batch(v, def, rep)?,
            Values::Bytes(v) => column.typed::<ByteArrayType>().write_batch(v, def, rep)?,
        };
        column.close()
    }
}

/// An argument as a row holds it.
#[derive(Debug, Clone, Copy)]
pub struct ArgCell<'a> {
    pub name: &'a str,
    pub type_name: &'a str,
    pub value: Option<u64>,
    pub text: &'a str,
    pub dir: &'a str,
    pub hidden: bool,
    pub unreadable: bool,
}

/// One row, borrowed from the events it joins.
#[derive(Debug, Default)]
pub struct Row<'a> {
    pub event: &'a str,
    pub vcpu: u32,
    pub thread: u64,
    pub process: u64,
    pub pid: Option<i64>,
    pub tid: Option<i64>,
    pub ppid: Option<i64>,
    pub comm: Option<Cow<'a, str>>,
    pub nr: i64,
    pub name: &'a str,
    pub classes: Vec<&'a str>,
    pub ts: Option<u64>,
    pub exit_ts: Option<u64>,
    pub unfinished: bool,
    pub args: Vec<ArgCell<'a>>,
    pub ret: Option<i64>,
    pub ret_raw: Option<u64>,
    pub ret_text: Option<&'a str>,
    pub error: Option<&'a str>,
    pub errno: Option<i32>,
    pub entry_thread: Option<u64>,
    pub entry_process: Option<u64>,
    pub status: Option<i64>,
}

/// The columns of the row group being filled, in the schema's leaf order.
#[derive(Debug)]
pub struct Columns {
    leaves: Vec<Leaf>,
    rows: usize,
    /// About how many bytes the values hold, to bound a row group's memory.
    bytes: usize,
}

// Leaf indexes, in the order of [`SCHEMA`].
const EVENT: usize = 0;
const VCPU: usize = 1;
const THREAD: usize = 2;
const PROCESS: usize = 3;
const PID: usize = 4;
const TID: usize = 5;
const PPID: usize = 6;
const COMM: usize = 7;
const NR: usize = 8;
const NAME: usize = 9;
const CLASSES: usize = 10;
const TS: usize = 11;
const EXIT_TS: usize = 12;
const DURATION: usize = 13;
const UNFINISHED: usize = 14;
const ARG_NAME: usize = 15;
const ARG_TYPE: usize = 16;
const ARG_VALUE: usize = 17;
const ARG_TEXT: usize = 18;
const ARG_DIR: usize = 19;
const ARG_HIDDEN: usize = 20;
const ARG_UNREADABLE: usize = 21;
const RET: usize = 22;
const RET_RAW: usize = 23;
const RET_TEXT: usize = 24;
const ERROR: usize = 25;
const ERRNO: usize = 26;
const ENTRY_THREAD: usize = 27;
const ENTRY_PROCESS: usize = 28;
const STATUS: usize = 29;

impl Default for Columns {
    fn default() -> Self {
        let bools = || Leaf::new(Values::Bool(Vec::new()), false);
        let leaves = vec![
            Leaf::bytes(),                               // event
            Leaf::new(Values::Int32(Vec::new()), false), // vcpu
            Leaf::int64(),                               // thread
            Leaf::int64(),                               // process
            Leaf::int64().levels(),                      // pid
            Leaf::int64().levels(),                      // tid
            Leaf::int64().levels(),                      // ppid
            Leaf::bytes().levels(),                      // comm
            Leaf::int64(),                               // nr
            Leaf::bytes(),                               // name
            Leaf::bytes().levels(),                      // classes
            Leaf::int64().levels(),                      // ts
            Leaf::int64().levels(),                      // exit_ts
            Leaf::int64().levels(),                      // duration
            bools(),                                     // unfinished
            Leaf::bytes().levels(),                      // args.name
            Leaf::bytes().levels(),                      // args.type
            Leaf::int64().levels(),                      // args.value
            Leaf::bytes().levels(),                      // args.text
            Leaf::bytes().levels(),                      // args.dir
            bools().levels(),                            // args.hidden
            bools().levels(),                            // args.unreadable
            Leaf::int64().levels(),                      // ret
            Leaf::int64().levels(),                      // ret_raw
            Leaf::bytes().levels(),                      // ret_text
            Leaf::bytes().levels(),                      // error
            Leaf::new(Values::Int32(Vec::new()), true),  // errno
            Leaf::int64().levels(),                      // entry_thread
            Leaf::int64().levels(),                      // entry_process
            Leaf::int64().levels(),                      // status
        ];
        Columns {
            leaves,
            rows: 0,
            bytes: 0,
        }
    }
}

impl Columns {
    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn push(&mut self, row: &Row<'_>) {
        let mut bytes = 64;
        let l = &mut self.leaves;
        bytes += l[EVENT].push_str(row.event);
        l[VCPU].push_i32(row.vcpu as i32);
        l[THREAD].push_i64(row.thread as i64);
        l[PROCESS].push_i64(row.process as i64);
        optional_i64(&mut l[PID], row.pid);
        optional_i64(&mut l[TID], row.tid);
        optional_i64(&mut l[PPID], row.ppid);
        bytes += optional_str(&mut l[COMM], row.comm.as_deref());
        l[NR].push_i64(row.nr);
        bytes += l[NAME].push_str(row.name);
        // A list's levels: 1 for an empty list, then per element its
        // definition (2 for the list's element, 3 for an optional field
        // that is there) and 0 for the row's first element, 1 after.
        if row.classes.is_empty() {
            l[CLASSES].level(1, 0);
        }
        for (i, class) in row.classes.iter().enumerate() {
            l[CLASSES].level(2, i16::from(i > 0));
            bytes += l[CLASSES].push_str(class);
        }
        let as_i64 = |v: Option<u64>| v.map(|v| v as i64);
        optional_i64(&mut l[TS], as_i64(row.ts));
        optional_i64(&mut l[EXIT_TS], as_i64(row.exit_ts));
        let duration = row.ts.zip(row.exit_ts).map(|(a, b)| b.saturating_sub(a));
        optional_i64(&mut l[DURATION], as_i64(duration));
        l[UNFINISHED].push_bool(row.unfinished);
        if row.args.is_empty() {
            for leaf in &mut l[ARG_NAME..=ARG_UNREADABLE] {
                leaf.level(1, 0);
            }
        }
        for (i, arg) in row.args.iter().enumerate() {
            let rep = i16::from(i > 0);
            for leaf in &mut l[ARG_NAME..=ARG_UNREADABLE] {
                leaf.level(2, rep);
            }
            bytes += l[ARG_NAME].push_str(arg.name);
            bytes += l[ARG_TYPE].push_str(arg.type_name);
            if let Some(v) = arg.value {
                *l[ARG_VALUE].def.last_mut().expect("a level per element") = 3;
                l[ARG_VALUE].push_i64(v as i64);
            }
            bytes += l[ARG_TEXT].push_str(arg.text);
            bytes += l[ARG_DIR].push_str(arg.dir);
            l[ARG_HIDDEN].push_bool(arg.hidden);
            l[ARG_UNREADABLE].push_bool(arg.unreadable);
        }
        optional_i64(&mut l[RET], row.ret);
        optional_i64(&mut l[RET_RAW], as_i64(row.ret_raw));
        bytes += optional_str(&mut l[RET_TEXT], row.ret_text);
        bytes += optional_str(&mut l[ERROR], row.error);
        match row.errno {
            Some(e) => {
                l[ERRNO].level(1, 0);
                l[ERRNO].push_i32(e);
            }
            None => l[ERRNO].level(0, 0),
        }
        optional_i64(&mut l[ENTRY_THREAD], as_i64(row.entry_thread));
        optional_i64(&mut l[ENTRY_PROCESS], as_i64(row.entry_process));
        optional_i64(&mut l[STATUS], row.status);
        self.rows += 1;
        self.bytes += bytes;
    }

    /// Writes the rows as one row group's columns and empties them.
    pub fn write<W: Write + Send>(
        &mut self,
        rg: &mut SerializedRowGroupWriter<'_, W>,
    ) -> Result<()> {
        for leaf in &self.leaves {
            leaf.write(rg)?;
        }
        self.clear();
        Ok(())
    }

    pub fn clear(&mut self) {
        for leaf in &mut self.leaves {
            leaf.clear();
        }
        self.rows = 0;
        self.bytes = 0;
    }

    /// The physical type of each leaf, in order (to check against the schema).
    #[cfg(test)]
    fn physical_types(&self) -> Vec<PhysicalType> {
        self.leaves.iter().map(Leaf::physical).collect()
    }
}

fn optional_i64(leaf: &mut Leaf, v: Option<i64>) {
    match v {
        Some(v) => {
            leaf.level(1, 0);
            leaf.push_i64(v);
        }
        None => leaf.level(0, 0),
    }
}

fn optional_str(leaf: &mut Leaf, v: Option<&str>) -> usize {
    match v {
        Some(v) => {
            leaf.level(1, 0);
            leaf.push_str(v)
        }
        None => {
            leaf.level(0, 0);
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parquet::schema::types::SchemaDescriptor;
    use std::sync::Arc;

    #[test]
    fn leaves_follow_the_schema() {
        let descr = SchemaDescriptor::new(Arc::new(schema()));
        let columns = Columns::default();
        let schema_types: Vec<PhysicalType> =
            descr.columns().iter().map(|c| c.physical_type()).collect();
        assert_eq!(columns.physical_types(), schema_types);
        for (leaf, column) in columns.leaves.iter().zip(descr.columns()) {
            assert_eq!(
                leaf.levels,
                column.max_def_level() > 0 || column.max_rep_level() > 0,
                "{}",
                column.path()
            );
        }
        // The fixed positions name the leaves they say.
        let path = |i: usize| descr.column(i).path().string();
        assert_eq!(path(CLASSES), "classes.list.element");
        assert_eq!(path(ARG_VALUE), "args.list.element.value");
        assert_eq!(path(ARG_UNREADABLE), "args.list.element.unreadable");
        assert_eq!(path(STATUS), "status");
        assert_eq!(descr.column(ARG_VALUE).max_def_level(), 3);
        assert_eq!(descr.column(ARG_TEXT).max_def_level(), 2);
    }
}
