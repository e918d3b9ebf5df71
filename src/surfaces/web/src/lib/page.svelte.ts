// What the current view says about itself beyond its route: the page title reads it.
export const pageMeta = $state({ notFound: false });
