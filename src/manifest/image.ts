// How an OS image is packed, from its name: what the installer (pxe/installer/init) can unpack as
// it streams the image to the disk, and the extensions of formats it cannot.

/**
 * gzip, zstd (the lab's: a third fewer bytes than lzop to fetch and hash, and as cheap to unpack),
 * lzop (busybox's, about four times cheaper to unpack than gzip), or none.
 */
export type ImageFormat = 'gz' | 'zst' | 'lzo' | 'raw';

/** The name without a URL's query or fragment. */
const bare = (source: string) => source.replace(/[?#].*$/, '');

/** An image's format from its file name's extension: .gz, .zst (or .zstd), .lzo, anything else raw. */
export function imageFormat(source: string): ImageFormat {
  const path = bare(source);
  if (/\.gz$/.test(path)) return 'gz';
  if (/\.zstd?$/.test(path)) return 'zst';
  return /\.lzo$/.test(path) ? 'lzo' : 'raw';
}

/**
 * The extension of a packed or virtual-disk format the installer would write to the disk as it is
 * (so the node could not boot it), or undefined.
 */
export function unsupportedImageExtension(source: string): string | undefined {
  return /\.(xz|bz2|lz4|lzma|zip|tgz|qcow2|vmdk|vhdx?|vdi)$/i.exec(bare(source))?.[0];
}
