// Which dialog or popover is open: one at a time, closed with Escape.

export type DialogName = "user-settings" | "guild-settings" | "create-guild" | "invite" | "create-channel" | "voice-error" | null;

class Ui {
  dialog = $state<DialogName>(null);
  /** The guild a guild dialog (settings, invite, new channel) is about. */
  dialogGuild = $state<string | null>(null);
  /** A message to bring into view once its channel's list is open (search's "Jump"). */
  jump = $state<{ channelId: string; messageId: string } | null>(null);

  open(name: DialogName, guildId: string | null = null) {
    this.dialog = name;
    this.dialogGuild = guildId;
  }

  close() {
    this.dialog = null;
    this.dialogGuild = null;
  }
}

export const ui = new Ui();
