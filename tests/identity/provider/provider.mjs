// The OpenID Provider of the identity tests: oidc-provider (a certified implementation) with one
// confidential client and the accounts it is given, on 127.0.0.1. Its development login page
// accepts any password for a known account: the tests exercise dockyard, not the provider.
//
// Usage: node provider.mjs SETTINGS_JSON
//   {"port": 4000, "client": {"client_id", "client_secret", "redirect_uris", "post_logout_redirect_uris"},
//    "accounts": {"alice": {"preferred_username": "alice", "groups": ["developers"]}}}
import { generateKeyPairSync, randomBytes } from "node:crypto";
import Provider from "oidc-provider";

const settings = JSON.parse(process.argv[2]);
const signingKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ format: "jwk" });

const provider = new Provider(`http://127.0.0.1:${settings.port}`, {
  clients: [{ ...settings.client, grant_types: ["authorization_code"], response_types: ["code"] }],
  jwks: { keys: [{ ...signingKey, kid: "test-key-1", alg: "RS256", use: "sig" }] },
  cookies: { keys: [randomBytes(32).toString("hex")] },
  pkce: { required: () => true },
  scopes: ["openid", "profile", "groups"],
  claims: { openid: ["sub"], profile: ["preferred_username", "name"], groups: ["groups"] },
  // The claims of the granted scopes go into the ID token itself, as most providers do for groups.
  conformIdTokenClaims: false,
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  async findAccount(ctx, id) {
    const account = settings.accounts[id];
    if (!account) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...account }; } };
  },
});
provider.on("server_error", (ctx, error) => console.error("server_error", error));
provider.listen(settings.port, "127.0.0.1", () => console.log(`listening on ${settings.port}`));
