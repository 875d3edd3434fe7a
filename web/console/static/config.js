// Where the console finds the API. Empty: this origin (the local binary,
// or a static site whose CDN sends /api/* to the API). A static site
// elsewhere sets the API's origin here, e.g. "https://api.example.com";
// that API must then answer CORS for this site.
window.RESCALE_CONSOLE = { apiBase: "" };
