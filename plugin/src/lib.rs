//! The generic osmtrace plugin: `-plugin libosmtrace.so,spec=MODEL.osm,...`
//! checks the model when QEMU loads the plugin and evaluates it at run time
//! (the paper's "no rebuild" promise). It shares the checked model, the
//! runtime and every other plugin argument with the compiled plugins; only
//! the backend differs (`osm_runtime::interp::Interpreted`).

#[cfg(feature = "qemu")]
mod qemu {
    use osm_runtime::interp::Interpreted;
    use osm_runtime::plugin::{PLUGIN_API_VERSION, QemuInfo, install_backend, report};
    use osm_runtime::qemu::args_from_argv;
    use std::ffi::{c_char, c_int};
    use std::path::Path;

    #[unsafe(no_mangle)]
    pub static qemu_plugin_version: c_int = PLUGIN_API_VERSION;

    /// # Safety
    /// Called by QEMU with its own arguments.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn qemu_plugin_install(
        id: u64,
        info: *const QemuInfo,
        argc: c_int,
        argv: *mut *mut c_char,
    ) -> c_int {
        let args = unsafe { args_from_argv(argc, argv as *const *const c_char) };
        let (specs, rest): (Vec<String>, Vec<String>) =
            args.into_iter().partition(|a| a.starts_with("spec="));
        let spec = match specs.as_slice() {
            [one] => one["spec=".len()..].to_string(),
            [] => {
                report(&format!(
                    "osmtrace: the generic plugin needs the model: spec=PATH.osm; {}",
                    osm_runtime::args::usage()
                ));
                return -1;
            }
            _ => {
                report("osmtrace: argument 'spec' given twice");
                return -1;
            }
        };
        let compilation = osm_compiler::compile_path(Path::new(&spec));
        let model = match compilation.result {
            Ok(model) => model,
            Err(_) => {
                report(&format!(
                    "osmtrace: the model {spec} does not check:\n{}",
                    compilation.render_errors().trim_end()
                ));
                return -1;
            }
        };
        let backend = Interpreted::new(model.clone(), &spec);
        unsafe { install_backend(backend, model, &rest, id, info) }
    }
}
