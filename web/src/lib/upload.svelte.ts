// Files attached in the composer. Each is uploaded ahead of the message
// as soon as it is attached: one `POST /channels/{id}/attachments` per
// batch gives a signed URL per file, and each file is PUT there by its own
// XMLHttpRequest (fetch reports no upload progress), so every file has its
// own progress bar and can be cancelled (`xhr.abort()`). The message then
// names the uploads by `uploaded_filename`.

import type { Api, OutgoingAttachment } from "./api";
import { attachmentKind, localUrl } from "./files";

export type UploadStatus = "uploading" | "done" | "failed";

let counter = 0;

export class PendingUpload {
  readonly key = `u${++counter}`;
  /** 0–1. */
  progress = $state(0);
  status = $state<UploadStatus>("uploading");
  error = $state<string | null>(null);
  /** How many progress events arrived (tests see more than one for a large file). */
  events = $state(0);
  uploadedFilename: string | null = null;
  /** A local preview of an image (an object URL), revoked when dropped. */
  readonly preview: string | null;
  xhr: XMLHttpRequest | null = null;
  private settled!: (ok: boolean) => void;
  /** Resolves when the upload ends: true when its bytes arrived. */
  readonly done = new Promise<boolean>((r) => (this.settled = r));

  constructor(readonly file: File) {
    this.preview =
      attachmentKind({ content_type: file.type }) === "image" && typeof URL.createObjectURL === "function"
        ? URL.createObjectURL(file)
        : null;
  }

  fail(message: string) {
    if (this.status !== "uploading") return;
    this.status = "failed";
    this.error = message;
    this.settled(false);
  }

  finish(uploadedFilename: string) {
    this.uploadedFilename = uploadedFilename;
    this.progress = 1;
    this.status = "done";
    this.settled(true);
  }

  /** Stops the upload (if it still runs) and frees the preview. */
  drop() {
    this.xhr?.abort();
    this.fail("Cancelled");
    if (this.preview) URL.revokeObjectURL(this.preview);
  }
}

/** The files one composer holds until its message is sent. */
export class Uploads {
  list = $state<PendingUpload[]>([]);
  static readonly MAX = 10;

  constructor(
    private readonly api: Api,
    private readonly channelId: () => string,
  ) {}

  get busy(): boolean {
    return this.list.some((u) => u.status === "uploading");
  }

  /** Attaches files (at most ten in all) and starts uploading them. Answers how many were left out. */
  add(files: File[]): number {
    const room = Uploads.MAX - this.list.length;
    const taken = files.slice(0, Math.max(0, room)).map((f) => new PendingUpload(f));
    if (!taken.length) return files.length;
    this.list.push(...taken);
    // Read back through the state proxy, so progress updates are seen.
    const mine = this.list.slice(-taken.length);
    void this.start(this.channelId(), mine);
    return files.length - taken.length;
  }

  remove(u: PendingUpload) {
    u.drop();
    this.list = this.list.filter((x) => x.key !== u.key);
  }

  /** Forgets every file (after a send, or leaving the channel), stopping the uploads that still run. */
  clear() {
    for (const u of this.list) u.drop();
    this.list = [];
  }

  /** Waits for every upload; answers the message's `attachments` (uploads that failed are left out). */
  async finished(): Promise<OutgoingAttachment[]> {
    await Promise.all(this.list.map((u) => u.done));
    return this.list
      .filter((u) => u.status === "done" && u.uploadedFilename)
      .map((u, i) => ({ id: String(i), filename: u.file.name, uploaded_filename: u.uploadedFilename! }));
  }

  private async start(channelId: string, batch: PendingUpload[]) {
    let targets: { id: string; upload_url: string; upload_filename: string }[];
    try {
      targets = (
        await this.api.createUploads(
          channelId,
          batch.map((u) => ({ filename: u.file.name, file_size: u.file.size, id: u.key })),
        )
      ).attachments;
    } catch (e) {
      for (const u of batch) u.fail((e as Error).message);
      return;
    }
    for (const u of batch) {
      const t = targets.find((x) => x.id === u.key);
      const url = t && localUrl(t.upload_url);
      if (!t || !url) u.fail("The server gave no upload address.");
      else if (u.status === "uploading") this.put(u, url, t.upload_filename);
    }
  }

  private put(u: PendingUpload, url: string, uploadedFilename: string) {
    const xhr = new XMLHttpRequest();
    u.xhr = xhr;
    xhr.upload.onprogress = (e) => {
      u.events++;
      if (e.lengthComputable && e.total) u.progress = Math.min(e.loaded / e.total, 0.999);
    };
    xhr.onload = () => {
      u.xhr = null;
      if (xhr.status >= 200 && xhr.status < 300) u.finish(uploadedFilename);
      else u.fail(xhr.status === 413 ? "This file is too large." : `Upload failed (${xhr.status}).`);
    };
    xhr.onerror = () => u.fail("Upload failed: cannot reach the server.");
    xhr.onabort = () => u.fail("Cancelled");
    xhr.open("PUT", url);
    xhr.send(u.file);
  }
}
