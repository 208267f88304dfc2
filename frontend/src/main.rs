//! Entry point: mounts [`kettle_frontend::App`] on the page's `<body>`.

fn main() {
    #[cfg(target_arch = "wasm32")]
    yew::Renderer::<kettle_frontend::App>::new().render();
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("kettle-frontend runs in a browser: build it with `trunk build`.");
}
