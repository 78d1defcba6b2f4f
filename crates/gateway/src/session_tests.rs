//! Unit tests of one session on its own: sequence numbers, the resume
//! buffer, the bounded queue to the attached connection, intents, shards
//! and the payload a session is given. No hub, no socket.

use std::collections::HashSet;

use bytes::Bytes;
use events::{intents, RevokedTokens};
use futures::FutureExt;

use super::*;
use crate::test_events::{ack, channel, channel_message, dm_message, guild_update, reply_message};

fn user(n: u64) -> UserId {
    UserId::new(n)
}

fn guild(n: u64) -> GuildId {
    GuildId::new(n)
}

/// A person's session (intents ALL, as conn gives clients that send none),
/// on one shard, holding `buffer` frames for resuming.
fn person(buffer: usize) -> Session {
    Session::new("s".into(), user(1), false, intents::ALL, (0, 1), HashSet::new(), buffer, "hash".into())
}

fn bot(intents: u64, shard: (u64, u64)) -> Session {
    Session::new("b".into(), user(2), true, intents, shard, HashSet::new(), 16, "hash".into())
}

/// Attaches a fresh connection allowed `max_queue` frames behind, as
/// IDENTIFY does.
fn attach(s: &Session, max_queue: usize) -> Outlet {
    let outlet = s.attach(Some(0), max_queue).expect("a new session attaches from 0");
    assert!(received(s, &outlet).is_empty(), "a new session has nothing to replay");
    outlet
}

/// Attaches a connection that received up to `seq`, as RESUME does, and
/// what it is then sent.
fn resume(s: &Session, seq: Option<u64>) -> Result<(Outlet, Vec<Frame>), ResumeError> {
    let outlet = s.attach(seq, 16)?;
    let replay = received(s, &outlet);
    Ok((outlet, replay))
}

fn data(n: usize) -> Bytes {
    Bytes::from(format!("{{\"n\":{n}}}"))
}

fn seqs(frames: &[Frame]) -> Vec<u64> {
    frames.iter().map(|f| f.seq).collect()
}

/// What the connection takes until it has caught up.
fn received(s: &Session, outlet: &Outlet) -> Vec<Frame> {
    std::iter::from_fn(|| s.take(outlet).ok().flatten()).collect()
}

/// What the buffer should account for these payloads.
fn cost(payloads: &[Bytes]) -> usize {
    payloads.iter().map(|d| d.len() + std::mem::size_of::<Frame>()).sum()
}

#[test]
fn sequence_numbers_start_at_one_and_grow_by_one_per_dispatch() {
    let s = person(16);
    let o = attach(&s, 16);
    for n in 1..=5 {
        assert_eq!(s.dispatch("MESSAGE_CREATE", data(n)), Delivery::Queued { depth: n });
    }
    let frames = received(&s, &o);
    assert_eq!(seqs(&frames), vec![1, 2, 3, 4, 5]);
    assert_eq!(frames[2].data, data(3), "each frame carries its own payload");
    // A detached session keeps counting: the resume replays what it missed
    // under the numbers it would have had.
    let s = person(16);
    assert_eq!(s.dispatch("A", data(1)), Delivery::Buffered);
    assert_eq!(s.dispatch("B", data(2)), Delivery::Buffered);
    let (_, replay) = resume(&s, Some(0)).unwrap();
    assert_eq!(seqs(&replay), vec![1, 2]);
    assert_eq!(replay.iter().map(|f| f.name).collect::<Vec<_>>(), vec!["A", "B"]);
}

#[test]
fn a_frame_is_a_dispatch_with_its_sequence_and_name() {
    // One head buffer serves frames one after the other: each head must
    // replace the last one whole, whatever the number of digits.
    let mut head = Vec::new();
    for (seq, name) in [(u64::MAX, "GUILD_CREATE"), (42, "MESSAGE_CREATE"), (0, "READY"), (7, "RESUMED")] {
        let frame = Frame { seq, name, data: Bytes::from_static(b"{\"id\":\"1\"}") };
        frame.write_head(&mut head);
        let bytes = [&head[..], &frame.data, Frame::TAIL].concat();
        let v: serde_json::Value = serde_json::from_slice(&bytes).expect("a frame is JSON");
        assert_eq!(v, serde_json::json!({ "op": 0, "s": seq, "t": name, "d": { "id": "1" } }));
    }
}

#[test]
fn resume_replays_exactly_the_dispatches_after_the_given_sequence() {
    let s = person(16);
    let o = attach(&s, 16);
    for n in 1..=6 {
        s.dispatch("MESSAGE_CREATE", data(n));
    }
    s.detach(&o);
    let (_, replay) = resume(&s, Some(4)).unwrap();
    assert_eq!(seqs(&replay), vec![5, 6]);
    assert_eq!(replay[0].data, data(5));
    // Resuming at the latest sequence replays nothing, and a resume with no
    // sequence (`null`, nothing received) replays everything.
    assert!(resume(&s, Some(6)).unwrap().1.is_empty());
    assert_eq!(seqs(&resume(&s, None).unwrap().1), vec![1, 2, 3, 4, 5, 6]);
}

#[test]
fn resume_refuses_a_sequence_the_buffer_no_longer_reaches_or_never_had() {
    // A buffer of 3: after 5 dispatches it holds 3, 4 and 5.
    let s = person(3);
    for n in 1..=5 {
        s.dispatch("MESSAGE_CREATE", data(n));
    }
    assert_eq!(resume(&s, Some(1)).unwrap_err(), ResumeError::TooOld, "frame 2 is gone");
    assert_eq!(resume(&s, Some(0)).unwrap_err(), ResumeError::TooOld, "frames 1 and 2 are gone");
    assert_eq!(resume(&s, Some(6)).unwrap_err(), ResumeError::Future, "6 was never sent");
    assert_eq!(resume(&s, Some(u64::MAX)).unwrap_err(), ResumeError::Future);
    assert!(s.detached_since().is_some(), "a refused resume attaches nothing");
    // The oldest sequence the buffer still follows on from resumes.
    assert_eq!(seqs(&resume(&s, Some(2)).unwrap().1), vec![3, 4, 5]);
    assert!(s.detached_since().is_none());
}

#[test]
fn a_heartbeat_s_sequence_lets_go_of_what_the_client_has_received() {
    let s = person(16);
    let o = attach(&s, 16);
    let payloads: Vec<Bytes> = (1..=5).map(data).collect();
    for p in &payloads {
        s.dispatch("E", p.clone());
    }
    assert_eq!(received(&s, &o).len(), 5, "the connection wrote all five");
    s.acknowledge(2);
    s.detach(&o);
    assert_eq!(s.detached_buffer().unwrap().1, cost(&payloads[2..]), "frames 1 and 2 are let go");
    assert!(matches!(resume(&s, Some(1)), Err(ResumeError::TooOld)), "1 was acknowledged as received");
    let (o, replay) = resume(&s, Some(2)).unwrap();
    assert_eq!(seqs(&replay), vec![3, 4, 5]);
    // The very payloads dispatched (shared with every other session), not
    // copies of them.
    let at = |d: &[Bytes]| d.iter().map(|d| d.as_ptr()).collect::<Vec<_>>();
    assert_eq!(at(&replay.iter().map(|f| f.data.clone()).collect::<Vec<_>>()), at(&payloads[2..]));
    // A sequence beyond what was sent lets go of everything sent, no more:
    // the next dispatch is still kept.
    s.acknowledge(99);
    s.dispatch("E", data(6));
    s.detach(&o);
    assert_eq!(s.detached_buffer().unwrap().1, cost(&[data(6)]));
    assert_eq!(seqs(&resume(&s, Some(5)).unwrap().1), vec![6]);
}

#[test]
fn ready_is_let_go_once_its_connection_has_it() {
    // READY, then what follows it, dispatched before the connection
    // attaches, as IDENTIFY does.
    let s = person(16);
    let ready = Bytes::from_static(b"{\"session_id\":\"s\"}");
    s.dispatch("READY", ready.clone());
    let rest: Vec<Bytes> = (2..=3).map(data).collect();
    for p in &rest {
        s.dispatch("GUILD_CREATE", p.clone());
    }
    let o = s.attach(Some(0), 16).unwrap();
    let first = s.take(&o).unwrap().expect("READY");
    assert_eq!((first.seq, first.name, first.data.clone()), (1, "READY", ready));
    // Only READY goes: what follows it may still be lost with the
    // connection, and is replayed.
    s.detach(&o);
    assert_eq!(s.detached_buffer().unwrap().1, cost(&rest), "READY is let go, the rest kept");
    // A client resumes with READY's session id, so from READY on.
    let (o, replay) = resume(&s, Some(1)).unwrap();
    assert_eq!(seqs(&replay), vec![2, 3]);
    s.detach(&o);
    assert_eq!(resume(&s, Some(0)).unwrap_err(), ResumeError::TooOld, "no one can resume from before READY");
}

#[test]
fn a_heartbeat_cannot_let_go_of_what_the_connection_has_not_written() {
    let s = person(16);
    let o = attach(&s, 16);
    for n in 1..=4 {
        s.dispatch("E", data(n));
    }
    assert_eq!(s.take(&o).unwrap().map(|f| f.seq), Some(1));
    // A client claiming 4 has received only 1: 2 to 4 are still to be
    // written, and are, in order.
    s.acknowledge(4);
    assert_eq!(seqs(&received(&s, &o)), vec![2, 3, 4]);
}

#[test]
fn a_session_that_never_dispatched_resumes_only_from_zero() {
    let s = person(4);
    assert_eq!(resume(&s, Some(1)).unwrap_err(), ResumeError::Future);
    assert!(resume(&s, Some(0)).unwrap().1.is_empty());
}

#[test]
fn the_buffer_accounts_for_the_bytes_of_the_frames_it_keeps() {
    let s = person(3);
    let (at, bytes) = s.detached_buffer().expect("a new session is detached");
    assert!(at <= std::time::Instant::now());
    assert_eq!(bytes, 0);
    let payloads: Vec<Bytes> = (0..5).map(|n| Bytes::from(vec![b'x'; 100 * (n + 1)])).collect();
    for (n, d) in payloads.iter().enumerate() {
        s.dispatch("MESSAGE_CREATE", d.clone());
        let kept = &payloads[(n + 1).saturating_sub(3)..=n];
        assert_eq!(s.detached_buffer().unwrap().1, cost(kept), "after dispatch {}", n + 1);
    }
    // 300 + 400 + 500 payload bytes, plus three frame records.
    assert_eq!(s.detached_buffer().unwrap().1, 1200 + 3 * std::mem::size_of::<Frame>());
    // Attached, the buffer is not counted against the detached budget.
    let o = s.attach(Some(5), 4).unwrap();
    assert!(s.detached_buffer().is_none());
    s.detach(&o);
    assert_eq!(s.detached_buffer().unwrap().1, 1200 + 3 * std::mem::size_of::<Frame>(), "detaching frees nothing");
}

#[test]
fn a_connection_too_far_behind_is_cut_loose_and_the_session_stays_resumable() {
    let s = person(16);
    let o = attach(&s, 2);
    assert_eq!(s.dispatch("A", data(1)), Delivery::Queued { depth: 1 });
    assert_eq!(s.dispatch("B", data(2)), Delivery::Queued { depth: 2 });
    assert_eq!(s.dispatch("C", data(3)), Delivery::CutLoose, "the client read nothing: too slow");
    assert!(s.detached_since().is_some(), "cut loose means detached");
    // The connection is woken to find it is no longer the session's.
    assert!(o.ready().now_or_never().is_some());
    assert_eq!(s.take(&o), Err(Detached));
    assert_eq!(s.dispatch("D", data(4)), Delivery::Buffered);
    // The client resumes from what it had and gets the rest in order.
    let o2 = s.attach(Some(2), 2).unwrap();
    assert_eq!(seqs(&received(&s, &o2)), vec![3, 4]);
    assert_eq!(s.dispatch("E", data(5)), Delivery::Queued { depth: 1 });
    assert_eq!(s.take(&o), Err(Detached), "the old connection stays cut loose");
}

#[test]
fn a_connection_is_woken_when_a_dispatch_finds_it_caught_up() {
    let s = person(16);
    let o = attach(&s, 16);
    assert!(o.ready().now_or_never().is_none(), "nothing dispatched");
    s.dispatch("A", data(1));
    assert!(o.ready().now_or_never().is_some(), "the first frame wakes it");
    // Behind already: the next frame does not wake it again; the
    // connection takes until it has caught up before it waits.
    s.dispatch("B", data(2));
    assert!(o.ready().now_or_never().is_none());
    assert_eq!(seqs(&received(&s, &o)), vec![1, 2]);
    s.dispatch("C", data(3));
    assert!(o.ready().now_or_never().is_some());
    assert_eq!(seqs(&received(&s, &o)), vec![3]);
}

#[test]
fn detach_only_lets_go_of_the_connection_that_is_still_attached() {
    let s = person(16);
    let old = attach(&s, 4);
    // A resume from another socket replaces the first connection, which
    // is woken to close.
    let new = s.attach(Some(0), 4).unwrap();
    assert!(old.ready().now_or_never().is_some());
    s.dispatch("A", data(1));
    assert_eq!(s.take(&old), Err(Detached), "the replaced connection gets nothing more");
    assert_eq!(seqs(&received(&s, &new)), vec![1]);
    // The old connection ending does not detach the new one.
    s.detach(&old);
    assert!(s.detached_since().is_none());
    assert_eq!(s.dispatch("B", data(2)), Delivery::Queued { depth: 1 });
    s.detach(&new);
    let since = s.detached_since().expect("detached");
    assert_eq!(s.dispatch("C", data(3)), Delivery::Buffered);
    assert_eq!(s.detached_since(), Some(since), "a dispatch does not move the detach time");
}

#[test]
fn the_buffer_keeps_what_a_connection_has_yet_to_write_past_its_chunks() {
    // Far more frames than one chunk of the buffer, taken in batches while
    // more arrive: every one arrives once, in order.
    let s = person(4096);
    let o = attach(&s, 2048);
    let mut got = Vec::new();
    for n in 1..=1000 {
        s.dispatch("E", data(n));
        if n % 37 == 0 {
            got.extend(seqs(&received(&s, &o)));
            s.acknowledge(*got.last().unwrap() - 5);
        }
    }
    got.extend(seqs(&received(&s, &o)));
    assert_eq!(got, (1..=1000).collect::<Vec<u64>>());
    // The last heartbeat (after 999) acknowledged up to 994.
    assert_eq!(resume(&s, Some(993)).unwrap_err(), ResumeError::TooOld);
    let (_, replay) = resume(&s, Some(995)).unwrap();
    assert_eq!(seqs(&replay), (996..=1000).collect::<Vec<u64>>());
}

#[test]
fn intents_admit_an_event_when_its_bit_is_held() {
    let s = bot(intents::GUILDS, (0, 1));
    let g = guild(5 << 22);
    assert!(s.wants(&ack(&[s.user])), "events with no intents reach every session");
    assert!(s.wants(&guild_update(g, user(9))));
    assert!(!s.wants(&channel_message(g, channel(1), user(9), &[])));
    assert!(!bot(0, (0, 1)).wants(&guild_update(g, user(9))));
    assert!(bot(0, (0, 1)).wants(&ack(&[user(2)])));
    assert!(!bot(intents::GUILD_MESSAGES, (0, 1)).wants(&dm_message(&[user(2)])), "DMs take DIRECT_MESSAGES");
    assert!(person(1).wants(&channel_message(g, channel(1), user(9), &[])));
}

#[test]
fn shards_carry_guilds_by_discords_formula_and_dms_on_shard_zero() {
    // Discord: shard_id = (guild_id >> 22) % num_shards.
    let g = guild(81_384_788_765_712_384); // >> 22 = 19_403_645_698
    let shard_of = |n: u64| (0..n).find(|&id| bot(0, (id, n)).on_shard(Some(g)));
    assert_eq!(shard_of(1), Some(0));
    assert_eq!(shard_of(2), Some(0));
    assert_eq!(shard_of(3), Some(1));
    assert_eq!(shard_of(16), Some(2));
    // Exactly one shard of a set carries a guild.
    for n in [1, 2, 5, 16] {
        assert_eq!((0..n).filter(|&id| bot(0, (id, n)).on_shard(Some(g))).count(), 1);
    }
    // The low 22 bits (worker, process, increment) play no part.
    let h = guild((7 << 22) | 0x3f_ffff);
    assert!(bot(0, (1, 2)).on_shard(Some(h)));
    assert!(bot(0, (3, 4)).on_shard(Some(h)));
    assert!(!bot(0, (0, 2)).on_shard(Some(h)));
    // Events outside guilds go to shard 0 only.
    assert!(bot(0, (0, 3)).on_shard(None));
    assert!(!bot(0, (1, 3)).on_shard(None));
    assert!(!bot(0, (2, 3)).on_shard(None));
}

fn content_of(data: &Bytes) -> serde_json::Value {
    serde_json::from_slice::<serde_json::Value>(data).expect("JSON")["content"].clone()
}

#[test]
fn bots_without_message_content_get_the_redacted_payload_unless_theirs_or_mentioned() {
    let g = guild(5 << 22);
    let other = user(77);
    let plain = bot(intents::GUILD_MESSAGES, (0, 1)); // user 2
    let event = channel_message(g, channel(1), other, &[]);
    assert_eq!(content_of(&plain.payload(&event, true)), "");
    // Its own message, and a message that mentions it, are shown in full.
    let own = channel_message(g, channel(1), plain.user, &[]);
    assert_eq!(&plain.payload(&own, true), own.data());
    let mention = channel_message(g, channel(1), other, &[user(3), plain.user]);
    assert_eq!(&plain.payload(&mention, true), mention.data());
    // With the intent, everything is shown; a person's session is never gated.
    let content = bot(intents::GUILD_MESSAGES | intents::MESSAGE_CONTENT, (0, 1));
    assert_eq!(&content.payload(&event, true), event.data());
    let person =
        Session::new("p".into(), user(9), false, intents::GUILD_MESSAGES, (0, 1), HashSet::new(), 4, "h".into());
    assert_eq!(&person.payload(&event, true), event.data());
    // DMs are never gated.
    let dm = dm_message(&[other, plain.user]);
    assert_eq!(&plain.payload(&dm, true), dm.data());
    assert_eq!(content_of(&plain.payload(&dm, true)), "dm");
}

#[test]
fn a_reply_is_gated_by_each_of_its_two_messages() {
    let g = guild(5 << 22);
    let plain = bot(intents::GUILD_MESSAGES, (0, 1)); // user 2
    let shown = |e: &Event| {
        let d: serde_json::Value = serde_json::from_slice(&plain.payload(e, true)).unwrap();
        (d["content"].clone(), d["referenced_message"]["content"].clone())
    };
    let e = reply_message(g, channel(1), plain.user, user(50));
    assert_eq!(shown(&e), ("the reply".into(), "".into()), "its own reply to someone else");
    let e = reply_message(g, channel(1), user(50), plain.user);
    assert_eq!(shown(&e), ("".into(), "the original".into()), "someone's reply to it");
    let e = reply_message(g, channel(1), plain.user, plain.user);
    assert_eq!(&plain.payload(&e, true), e.data());
    let e = reply_message(g, channel(1), user(50), user(51));
    assert_eq!(shown(&e), ("".into(), "".into()), "neither is its own");
}

#[test]
fn without_the_channel_s_history_a_reply_comes_without_the_message_it_answers() {
    let g = guild(5 << 22);
    let people = person(4);
    let e = reply_message(g, channel(1), user(50), user(51));
    assert!(e.history_gated());
    let full: serde_json::Value = serde_json::from_slice(&people.payload(&e, true)).unwrap();
    assert_eq!(full["referenced_message"]["content"], "the original");
    let blind = people.payload(&e, false);
    let d: serde_json::Value = serde_json::from_slice(&blind).unwrap();
    assert!(d.get("referenced_message").is_none(), "{d}");
    assert_eq!(d["content"], "the reply");
    assert_eq!(d["message_reference"], full["message_reference"]);
    // Serialised once: every session without the history shares the bytes.
    assert_eq!(people.payload(&e, false).as_ptr(), blind.as_ptr());
    // A bot without MESSAGE_CONTENT and without history: the reply, emptied.
    let plain = bot(intents::GUILD_MESSAGES, (0, 1));
    let d: serde_json::Value = serde_json::from_slice(&plain.payload(&e, false)).unwrap();
    assert!(d.get("referenced_message").is_none());
    assert_eq!(d["content"], "");
    let own = reply_message(g, channel(1), plain.user, user(51));
    assert_eq!(content_of(&plain.payload(&own, false)), "the reply");
    // A message that replies to nothing is the same with or without history.
    let plain_message = channel_message(g, channel(1), user(50), &[]);
    assert!(!plain_message.history_gated());
    assert_eq!(&people.payload(&plain_message, false), plain_message.data());
}

#[test]
fn a_revoked_token_closes_the_connection_until_a_new_token_is_used() {
    let s = person(4);
    assert!(s.revoked().now_or_never().is_none());
    s.revoke(&RevokedTokens::These(vec!["other".into()]));
    assert!(s.revoked().now_or_never().is_none(), "another token of the user");
    s.revoke(&RevokedTokens::AllBut("hash".into()));
    assert!(s.revoked().now_or_never().is_none(), "the kept token");
    s.revoke(&RevokedTokens::These(vec!["other".into(), "hash".into()]));
    assert!(s.revoked().now_or_never().is_some());
    // A RESUME with a fresh token clears it; revoking the old one again
    // does not touch the new connection.
    s.set_token_hash("fresh".into());
    assert_eq!(s.token_hash(), "fresh");
    assert!(s.revoked().now_or_never().is_none());
    s.revoke(&RevokedTokens::These(vec!["hash".into()]));
    assert!(s.revoked().now_or_never().is_none());
    s.revoke(&RevokedTokens::AllBut("newest".into()));
    assert!(s.revoked().now_or_never().is_some());
}

#[test]
fn a_session_joins_and_leaves_guilds() {
    let s = Session::new("s".into(), user(1), false, intents::ALL, (0, 1), HashSet::from([guild(1)]), 4, "h".into());
    assert!(s.has_guild(guild(1)));
    s.join(guild(2));
    let mut guilds = s.guilds();
    guilds.sort();
    assert_eq!(guilds, vec![guild(1), guild(2)]);
    s.leave(guild(1));
    assert!(!s.has_guild(guild(1)));
    assert_eq!(s.guilds(), vec![guild(2)]);
}
