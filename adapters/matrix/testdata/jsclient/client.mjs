// A second Matrix client for the e2e tests, not built on mautrix:
// matrix-js-sdk with its Rust crypto (the SDK Element is built on). The Go
// test (jsclient_test.go) drives it over stdin/stdout, one JSON object per
// line: commands in ({"id":n,"cmd":...}), results ({"id":n,...}) and every
// room event the client sees ({"event":{...}}, decrypted where it can) out.
// Installed by scripts/matrix-js-client.sh; run with its Node 22.
import * as readline from "node:readline";
import * as sdk from "matrix-js-sdk";
// stdout carries the protocol only: the SDK's logging goes to stderr.
const toStderr = (...a) => process.stderr.write(a.map(String).join(" ") + "\n");
console.log = console.info = console.debug = console.warn = console.error = toStderr;
const out = (o) => process.stdout.write(JSON.stringify(o) + "\n");
const { HS, USER, PASSWORD } = process.env;

let client;
const seen = new Set();

async function report(ev) {
	if (seen.has(ev.getId())) return;
	if (ev.isEncrypted()) {
		await client.decryptEventIfNeeded(ev);
		if (ev.isDecryptionFailure()) return; // reported once decrypted, if ever
	}
	seen.add(ev.getId());
	const c = ev.getContent() || {};
	const rel = ev.getWireContent()["m.relates_to"] || c["m.relates_to"] || {};
	out({
		event: {
			id: ev.getId(), room: ev.getRoomId(), sender: ev.getSender(), type: ev.getType(),
			encrypted: ev.isEncrypted(), body: c.body || "", msgtype: c.msgtype || "",
			rel_type: rel.rel_type || "", rel_event: rel.event_id || "", thread: ev.threadRootId || "",
			new_body: (c["m.new_content"] || {}).body || "",
		},
	});
}

const commands = {
	async login() {
		const anon = sdk.createClient({ baseUrl: HS });
		const r = await anon.loginRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: USER }, password: PASSWORD });
		client = sdk.createClient({ baseUrl: HS, userId: r.user_id, accessToken: r.access_token, deviceId: r.device_id });
		await client.initRustCrypto({ useIndexedDB: false });
		client.on(sdk.ClientEvent.Event, (ev) => { if (ev.getRoomId()) report(ev).catch((e) => out({ error: String(e) })); });
		client.on(sdk.MatrixEventEvent.Decrypted, (ev) => { if (!ev.isDecryptionFailure()) report(ev).catch(() => {}); });
		const prepared = new Promise((resolve) => client.on(sdk.ClientEvent.Sync, (s) => { if (s === "PREPARED") resolve(); }));
		await client.startClient({ initialSyncLimit: 20, threadSupport: true });
		await prepared;
		return { user: r.user_id, device: r.device_id };
	},
	async createRoom({ invite, encrypted, name }) {
		const initial_state = encrypted ? [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }] : [];
		const r = await client.createRoom({ name, invite, is_direct: invite.length === 1, preset: "private_chat", initial_state });
		return { room: r.room_id };
	},
	async joined({ room, user }) {
		const m = await client.getStateEvent(room, "m.room.member", user).catch(() => null);
		return { joined: !!m && m.membership === "join" };
	},
	async send({ room, body, thread }) {
		const r = await client.sendEvent(room, thread || null, "m.room.message", { msgtype: "m.text", body });
		return { event: r.event_id };
	},
	// Cross-signing keys for this account, as Element makes them at first
	// login (the homeserver asks for the password to upload them).
	async bootstrapCrossSigning() {
		await client.getCrypto().bootstrapCrossSigning({
			authUploadDeviceSigningKeys: async (makeRequest) => {
				await makeRequest({ type: "m.login.password", identifier: { type: "m.id.user", user: USER }, password: PASSWORD });
			},
		});
		return {};
	},
	// Emoji verification of user's device in room, as "Verify" in Element:
	// the SAS is reported ({"sas":[...]}) and confirmed here at once; the
	// result says whether the SDK now trusts the device.
	async verify({ room, user, device }) {
		const crypto = client.getCrypto();
		// The SDK tracks devices of users it shares an encrypted room
		// with; this room need not be one.
		await crypto.getUserDeviceInfo([user], true);
		const req = await crypto.requestVerificationDM(user, room);
		await new Promise((resolve, reject) => {
			const check = () => {
				if (req.phase === 3) resolve(); // Ready
				if (req.phase === 5) reject(new Error("cancelled: " + (req.cancellationCode || "") + " " + JSON.stringify(req.cancellingUserId || "")));
			};
			req.on("change", check);
			check();
		});
		const verifier = await req.startVerification("m.sas.v1");
		verifier.on("show_sas", (sas) => {
			out({ sas: sas.sas.emoji ? sas.sas.emoji.map((e) => e[0]) : [] });
			sas.confirm().catch((e) => out({ error: String(e) }));
		});
		await verifier.verify();
		// Trusting the bot's identity (and so its cross-signed device)
		// settles just after the verification itself.
		let st;
		for (let i = 0; i < 100; i++) {
			st = await crypto.getDeviceVerificationStatus(user, device);
			if (st && st.crossSigningVerified) break;
			await new Promise((r) => setTimeout(r, 100));
		}
		return { verified: !!st && st.isVerified(), crossSigned: !!st && st.crossSigningVerified };
	},
	async stop() {
		client.stopClient();
		setTimeout(() => process.exit(0), 50);
		return {};
	},
};

const rl = readline.createInterface({ input: process.stdin });
rl.on("line", async (line) => {
	let req;
	try {
		req = JSON.parse(line);
		const res = await commands[req.cmd](req);
		out({ id: req.id, ...res });
	} catch (e) {
		out({ id: req && req.id, error: String(e && e.stack || e) });
	}
});
rl.on("close", () => process.exit(0));
