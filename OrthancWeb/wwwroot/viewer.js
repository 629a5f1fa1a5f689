// Slice viewer helper: neighbouring slices are loaded and decoded ahead in Image objects that stay referenced, so
// when the viewer's <img> switches to one of them the browser shows it from its memory cache at once.
window.owViewer = {
  cache: new Map(),
  preload(urls) {
    for (const url of urls) {
      if (this.cache.has(url)) {
        const img = this.cache.get(url);   // most recently wanted last: the oldest go first
        this.cache.delete(url);
        this.cache.set(url, img);
        continue;
      }
      const img = new Image();
      img.src = url;
      img.decode().catch(() => {});
      this.cache.set(url, img);
    }
    while (this.cache.size > 48) this.cache.delete(this.cache.keys().next().value);
  },
  ready(urls) {
    return urls.every(u => { const i = this.cache.get(u); return i && i.complete && i.naturalWidth > 0; });
  }
};

// The box of an element on screen, after CSS transforms (zoom, pan): the viewer turns mouse positions into image
// coordinates with it.
window.owViewer.box = function (element) {
  if (!element || !element.getBoundingClientRect) return null;
  const r = element.getBoundingClientRect();
  return [r.left, r.top, r.width, r.height];
};
