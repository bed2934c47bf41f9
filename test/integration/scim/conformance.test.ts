/**
 * A conformance list written from RFC 7644 §3 (and RFC 7643 where it sets the rules), since no
 * independent SCIM client ships in the npm registry or Debian for a test to drive: every endpoint,
 * every error type Gatehouse can answer, and malformed filters and bodies answered as SCIM errors,
 * never a 500. Real HTTP on both databases.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { DATABASE_KINDS } from '../../helpers/databases.ts';
import { type TestGatehouse, startGatehouse } from '../../helpers/gatehouse.ts';
import { ENTERPRISE, ERROR, GROUP, LIST, PATCH_OP, USER, assertScimError, assertScimJson, filterQuery, scim, scimKey } from './support.ts';

const SEARCH = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';

for (const { kind, skip } of DATABASE_KINDS) {
  describe(`SCIM: RFC 7644 §3 conformance (${kind})`, { skip }, () => {
    let gh: TestGatehouse;
    let key: string;
    const req = (method: string, path: string, body?: unknown, options: { contentType?: string; raw?: string } = {}) => scim(gh, method, path, body, { key, ...options });
    const prefix = `conf${Date.now().toString(36)}`;
    const people: { id: string; userName: string; email: string }[] = [];

    before(async () => {
      gh = await startGatehouse(kind);
      key = (await scimKey(gh)).key;
      for (const [given, family] of [
        ['Ada', 'Lovelace'],
        ['Alan', 'Turing'],
        ['Grace', 'Hopper'],
        ['Edsger', 'Dijkstra'],
        ['Barbara', 'Liskov'],
      ] as const) {
        const userName = `${prefix}.${given.toLowerCase()}@example.com`;
        const email = `${given.toLowerCase()}.${family.toLowerCase()}@${prefix}.example.org`;
        const created = await req('POST', '/Users', { schemas: [USER], userName, name: { givenName: given, familyName: family }, displayName: `${given} ${family}`, emails: [{ type: 'work', primary: true, value: email }], externalId: `ext-${given}` });
        assertScimJson(created, 201);
        people.push({ id: created.body.id, userName, email });
      }
    });
    after(() => gh?.close());

    const ids = (response: { body: { Resources: { id: string }[] } }) => response.body.Resources.map((r) => r.id).sort();
    const idsOf = (...indexes: number[]) => indexes.map((i) => people[i]?.id as string).sort();

    test('§4 discovery: ServiceProviderConfig, ResourceTypes and Schemas, each by id, unknown ids 404', async () => {
      const config = await scim(gh, 'GET', '/ServiceProviderConfig');
      assertScimJson(config, 200);
      assert.deepEqual(config.body.schemas, ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig']);
      assert.equal(config.body.patch.supported, true);
      assert.equal(config.body.filter.supported, true);
      assert.equal(config.body.filter.maxResults, 1000);
      assert.equal(config.body.bulk.supported, false);
      assert.equal(config.body.changePassword.supported, false);
      assert.equal(config.body.sort.supported, false);
      assert.equal(config.body.etag.supported, false);
      assert.equal(config.body.authenticationSchemes[0].type, 'oauthbearertoken');

      const types = await scim(gh, 'GET', '/ResourceTypes');
      assertScimJson(types, 200);
      assert.deepEqual(types.body.schemas, [LIST]);
      assert.deepEqual(types.body.Resources.map((r: { id: string }) => r.id), ['User', 'Group']);
      const userType = await scim(gh, 'GET', '/ResourceTypes/User');
      assert.equal(userType.body.endpoint, '/Users');
      assert.deepEqual(userType.body.schemaExtensions, [{ schema: ENTERPRISE, required: false }]);
      assertScimError(await scim(gh, 'GET', '/ResourceTypes/Device'), 404);

      const schemas = await scim(gh, 'GET', '/Schemas');
      assert.deepEqual(schemas.body.Resources.map((s: { id: string }) => s.id), [USER, ENTERPRISE, GROUP]);
      const user = await scim(gh, 'GET', `/Schemas/${USER}`);
      assertScimJson(user, 200);
      const userName = user.body.attributes.find((a: { name: string }) => a.name === 'userName');
      assert.equal(userName.required, true);
      assert.equal(userName.uniqueness, 'server');
      assert.equal(userName.caseExact, false);
      assertScimError(await scim(gh, 'GET', '/Schemas/urn:example:unknown'), 404);
    });

    test('§3.1, §3.12: responses are application/scim+json; application/json bodies are accepted; other media types 415', async () => {
      const asJson = await req('POST', '/Users', { schemas: [USER], userName: `${prefix}.json@example.com` }, { contentType: 'application/json' });
      assertScimJson(asJson, 201);
      assert.equal(asJson.body.emails[0].value, `${prefix}.json@example.com`);
      const withCharset = await req('POST', '/Groups', { schemas: [GROUP], displayName: `${prefix}-charset` }, { contentType: 'application/scim+json; charset=utf-8' });
      assertScimJson(withCharset, 201);
      assertScimError(await req('POST', '/Users', undefined, { contentType: 'text/plain', raw: 'userName=x' }), 415);
      assertScimError(await req('POST', '/Users', undefined, { contentType: 'application/x-www-form-urlencoded', raw: 'userName=x' }), 415);
      assertScimError(await req('GET', '/Nonsense'), 404);
    });

    test('§3.3 create: 201 with Location and meta; required, unique and typed attributes refused with their scimType', async () => {
      const userName = `${prefix}.create@example.com`;
      const created = await req('POST', '/Users', { schemas: [USER], userName, emails: [{ value: `create@${prefix}.example.org`, type: 'work' }], active: false });
      assertScimJson(created, 201);
      assert.equal(created.headers.get('location'), created.body.meta.location);
      assert.equal(created.body.active, false);
      assert.equal((await gh.directory.users.get(created.body.id)).state, 'SUSPENDED');

      assertScimError(await req('POST', '/Users', { schemas: [USER], emails: [{ value: 'x@example.com' }] }), 400, 'invalidValue');
      assertScimError(await req('POST', '/Users', { schemas: [USER], userName: 'no-email-here' }), 400, 'invalidValue');
      // userName is unique without regard to case (RFC 7643 §4.1.1), and so is the email (Gatehouse signs in by either).
      assertScimError(await req('POST', '/Users', { schemas: [USER], userName: userName.toUpperCase() }), 409, 'uniqueness');
      assertScimError(await req('POST', '/Users', { schemas: [USER], userName: `${prefix}.other@example.com`, emails: [{ value: `create@${prefix}.example.org` }] }), 409, 'uniqueness');
      assertScimError(await req('POST', '/Users', { schemas: [USER], userName: `${prefix}.ext@example.com`, externalId: 'ext-Ada' }), 409, 'uniqueness');
      assertScimError(await req('POST', '/Users', { schemas: [USER], userName: `${prefix}.bad@example.com`, active: 'maybe' }), 400, 'invalidValue');
      assertScimError(await req('POST', '/Users', { schemas: [USER], userName: `${prefix}.bad@example.com`, emails: 'x@example.com' }), 400, 'invalidValue');
      assertScimError(await req('POST', '/Users', { schemas: [USER], userName: 'not a valid username!', emails: [{ value: 'ok@example.com' }] }), 400, 'invalidValue');
      assertScimError(await req('POST', '/Users', { schemas: [USER], userName: `${prefix}.bad@example.com`, emails: [{ value: 'not-an-email' }] }), 400, 'invalidValue');
      assertScimError(await req('POST', '/Users', undefined, { raw: '{"userName": ' }), 400, 'invalidSyntax');
      assertScimError(await req('POST', '/Users', [{ userName: 'x' }]), 400, 'invalidSyntax');
      assertScimError(await req('POST', '/Users', 'a string'), 400, 'invalidSyntax');
      assertScimError(await req('POST', '/Groups', { schemas: [GROUP] }), 400, 'invalidValue');
      assertScimError(await req('POST', '/Groups', { schemas: [GROUP], displayName: `${prefix}-g`, members: [{ value: people[0]?.id, type: 'Group' }] }), 400, 'invalidValue');
      assertScimError(await req('POST', '/Groups', { schemas: [GROUP], displayName: `${prefix}-g`, members: 'everyone' }), 400, 'invalidValue');
    });

    test('§3.4.1 get by id: 200, and 404 for an unknown or malformed id', async () => {
      const got = await req('GET', `/Users/${people[0]?.id}`);
      assertScimJson(got, 200);
      assert.equal(got.body.userName, people[0]?.userName);
      assertScimError(await req('GET', '/Users/0123456789abcdef01234567'), 404);
      assertScimError(await req('GET', `/Users/${encodeURIComponent(people[0]?.userName ?? '')}`), 404);
      assertScimError(await req('GET', '/Groups/not-an-id'), 404);
    });

    test('§3.4.2.2 filters: operators, logic, grouping, case rules, value paths; the ListResponse', async () => {
      const list = async (filter: string) => {
        const response = await req('GET', `/Users?${filterQuery(filter)}`);
        assertScimJson(response, 200);
        assert.deepEqual(response.body.schemas, [LIST]);
        assert.equal(response.body.itemsPerPage, response.body.Resources.length);
        assert.equal(response.body.startIndex, 1);
        return response;
      };
      assert.deepEqual(ids(await list(`userName eq "${people[0]?.userName}"`)), idsOf(0));
      assert.deepEqual(ids(await list(`USERNAME EQ "${people[0]?.userName.toUpperCase()}"`)), idsOf(0));
      assert.deepEqual(ids(await list(`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "${people[1]?.userName}"`)), idsOf(1));
      assert.deepEqual(ids(await list(`userName sw "${prefix}.a"`)), idsOf(0, 1));
      // Lovelace, Hopper and Liskov have an "o" (the users other tests create have no family name).
      assert.deepEqual(ids(await list(`userName sw "${prefix}" and name.familyName co "o"`)), idsOf(0, 2, 4));
      assert.deepEqual(ids(await list(`emails.value ew "@${prefix}.example.org" and (displayName eq "grace hopper" or displayName eq "Alan Turing")`)), idsOf(1, 2));
      assert.deepEqual(ids(await list(`emails[type eq "work" and value eq "${people[3]?.email}"]`)), idsOf(3));
      assert.deepEqual(ids(await list(`emails[type eq "home"].value eq "${people[3]?.email}"`)), []);
      assert.deepEqual(ids(await list(`externalId eq "ext-Barbara"`)), idsOf(4));
      assert.deepEqual(ids(await list(`userName sw "${prefix}.a" and not (externalId pr)`)), []);
      assert.deepEqual(ids(await list(`userName sw "${prefix}.a" and (externalId pr)`)), idsOf(0, 1));
      // An absent externalId is not equal to anything, so "not (… eq …)" holds for it.
      assert.equal((await list(`userName eq "${prefix}.json@example.com" and not (externalId eq "ext-Ada")`)).body.totalResults, 1);
      assert.deepEqual(ids(await list(`userName sw "${prefix}.a" and not (externalId eq "ext-Ada")`)), idsOf(1));
      assert.deepEqual(ids(await list(`userName sw "${prefix}." and externalId ne "ext-Ada" and name.givenName sw "a"`)), idsOf(1));
      assert.deepEqual(ids(await list(`id eq "${people[2]?.id}" and active eq true`)), idsOf(2));
      assert.equal((await list(`meta.created gt "2000-01-01T00:00:00Z" and userName eq "${people[0]?.userName}"`)).body.totalResults, 1);
      assert.equal((await list('userName eq "nobody@nowhere.example"')).body.totalResults, 0);
    });

    test('§3.4.2.2, §3.12 malformed or unsupported filters: 400 invalidFilter, never a 500', async () => {
      for (const filter of [
        'userName',
        'userName eq',
        'userName xx "a"',
        'userName eq "a" and',
        '(userName eq "a"',
        '"',
        'eq "a"',
        'nosuchattribute eq "a"',
        'password eq "x"',
        'active eq "yes"',
        'meta.created gt "yesterday"',
        'userName eq 12',
        'emails[type eq "work"',
        'emails[value eq "a" and x[y eq "z"]]',
        '('.repeat(3000),
        'userName eq "a" userName eq "b"',
        'userName eq "a")',
        `userName eq "${'x'.repeat(5000)}"`,
      ]) {
        assertScimError(await req('GET', `/Users?${filterQuery(filter)}`), 400, 'invalidFilter');
      }
      // Odd but valid: a string of parentheses, an escaped character.
      for (const filter of [`userName eq "${'('.repeat(3000)}"`, 'userName eq "\\u0041"']) {
        const response = await req('GET', `/Users?${filterQuery(filter)}`);
        assertScimJson(response, 200);
        assert.equal(response.body.totalResults, 0);
      }
      assertScimError(await req('GET', `/Groups?${filterQuery('displayName eq')}`), 400, 'invalidFilter');
      assertScimError(await req('GET', `/Groups?${filterQuery('userName eq "x"')}`), 400, 'invalidFilter');
      // A NUL cannot reach PostgreSQL: refused before, as a SCIM error.
      assertScimError(await req('GET', `/Users?${filterQuery('userName eq "a\u0000b"')}`), 400);
      assertScimError(await req('GET', `/Users?${filterQuery('userName eq "a"')}&${filterQuery('userName eq "b"')}`), 400, 'invalidValue');
    });

    test('§3.4.2.4 pagination: startIndex (1-based) and count; count 0 gives the total only; out-of-range values are brought in range', async () => {
      const filter = filterQuery(`userName sw "${prefix}."`);
      const all = await req('GET', `/Users?${filter}`);
      const total = all.body.totalResults;
      assert.ok(total >= 5);
      const pages: string[] = [];
      for (let start = 1; start <= total; start += 2) {
        const page = await req('GET', `/Users?${filter}&startIndex=${start}&count=2`);
        assert.equal(page.body.startIndex, start);
        assert.equal(page.body.totalResults, total);
        assert.ok(page.body.itemsPerPage <= 2);
        pages.push(...page.body.Resources.map((r: { id: string }) => r.id));
      }
      assert.deepEqual(pages, all.body.Resources.map((r: { id: string }) => r.id));
      assert.equal(new Set(pages).size, total);
      const none = await req('GET', `/Users?${filter}&count=0`);
      assert.equal(none.body.totalResults, total);
      assert.deepEqual(none.body.Resources, []);
      const negative = await req('GET', `/Users?${filter}&count=-5&startIndex=-3`);
      assert.equal(negative.body.startIndex, 1);
      assert.deepEqual(negative.body.Resources, []);
      const beyond = await req('GET', `/Users?${filter}&startIndex=${total + 10}`);
      assert.equal(beyond.body.totalResults, total);
      assert.deepEqual(beyond.body.Resources, []);
      assertScimError(await req('GET', '/Users?count=ten'), 400, 'invalidValue');
      assertScimError(await req('GET', '/Users?startIndex=1.5'), 400, 'invalidValue');
    });

    test('§3.4.2.5 attributes and excludedAttributes, on lists and single resources; id and schemas always', async () => {
      const only = await req('GET', `/Users/${people[0]?.id}?attributes=userName,name.givenName`);
      assert.deepEqual(only.body, { schemas: [USER], id: people[0]?.id, userName: people[0]?.userName, name: { givenName: 'Ada' } });
      const urn = await req('GET', `/Users/${people[0]?.id}?attributes=urn:ietf:params:scim:schemas:core:2.0:User:displayName`);
      assert.deepEqual(urn.body, { schemas: [USER], id: people[0]?.id, displayName: 'Ada Lovelace' });
      const without = await req('GET', `/Users/${people[0]?.id}?excludedAttributes=emails,meta,name.formatted,id`);
      assert.equal(without.body.emails, undefined);
      assert.equal(without.body.meta, undefined);
      assert.equal(without.body.id, people[0]?.id);
      assert.deepEqual(without.body.name, { givenName: 'Ada', familyName: 'Lovelace' });
      const listed = await req('GET', `/Users?${filterQuery(`userName eq "${people[1]?.userName}"`)}&attributes=externalId`);
      assert.deepEqual(listed.body.Resources, [{ schemas: [USER], id: people[1]?.id, externalId: 'ext-Alan' }]);
      const group = await req('POST', '/Groups?excludedAttributes=members', { schemas: [GROUP], displayName: `${prefix}-attrs`, members: [{ value: people[0]?.id }] });
      assertScimJson(group, 201);
      assert.equal(group.body.members, undefined);
      const withMembers = await req('GET', `/Groups/${group.body.id}?attributes=members.value`);
      assert.deepEqual(withMembers.body, { schemas: [GROUP], id: group.body.id, members: [{ value: people[0]?.id }] });
    });

    test('§3.4.3 POST /.search with a SearchRequest; the root search and malformed requests are refused', async () => {
      const search = await req('POST', '/Users/.search', { schemas: [SEARCH], filter: `userName eq "${people[2]?.userName}"`, attributes: ['userName'], startIndex: 1, count: 10 });
      assertScimJson(search, 200);
      assert.deepEqual(search.body.Resources, [{ schemas: [USER], id: people[2]?.id, userName: people[2]?.userName }]);
      const groups = await req('POST', '/Groups/.search', { schemas: [SEARCH], filter: `displayName sw "${prefix}"`, excludedAttributes: ['members'] });
      assertScimJson(groups, 200);
      assertScimError(await req('POST', '/Users/.search', { schemas: [SEARCH], filter: 'userName eq' }), 400, 'invalidFilter');
      assertScimError(await req('POST', '/Users/.search', { schemas: ['urn:example'], filter: 'userName pr' }), 400, 'invalidSyntax');
      assertScimError(await req('POST', '/Users/.search', { schemas: [SEARCH], count: 'ten' }), 400, 'invalidValue');
      assertScimError(await req('POST', '/.search', { schemas: [SEARCH] }), 501);
    });

    test('§3.5.1 PUT replaces: absent attributes are cleared; id is the server’s; an unknown id is 404', async () => {
      const userName = `${prefix}.put@example.com`;
      const created = (await req('POST', '/Users', { schemas: [USER], userName, name: { givenName: 'Put', familyName: 'Me' }, displayName: 'Put Me', externalId: 'ext-put', [ENTERPRISE]: { department: 'R&D' } })).body;
      const replaced = await req('PUT', `/Users/${created.id}`, { schemas: [USER], id: 'ignored', userName, name: { givenName: 'Put' }, emails: [{ value: `put@${prefix}.example.org`, primary: true }] });
      assertScimJson(replaced, 200);
      assert.equal(replaced.body.id, created.id);
      assert.deepEqual(replaced.body.name, { formatted: 'Put', givenName: 'Put' });
      assert.equal(replaced.body.displayName, undefined);
      assert.equal(replaced.body.externalId, undefined);
      assert.equal(replaced.body[ENTERPRISE], undefined);
      assert.equal(replaced.body.emails[0].value, `put@${prefix}.example.org`);
      assert.equal(replaced.body.active, true);
      assertScimError(await req('PUT', `/Users/${created.id}`, { schemas: [USER] }), 400, 'invalidValue');
      assertScimError(await req('PUT', '/Users/0123456789abcdef01234567', { schemas: [USER], userName: 'ghost@example.com' }), 404);

      const group = (await req('POST', '/Groups', { schemas: [GROUP], displayName: `${prefix}-put`, members: [{ value: people[0]?.id }, { value: people[1]?.id }] })).body;
      const regrouped = await req('PUT', `/Groups/${group.id}`, { schemas: [GROUP], displayName: `${prefix}-put-renamed`, members: [{ value: people[1]?.id }, { value: people[2]?.id }] });
      assertScimJson(regrouped, 200);
      assert.equal(regrouped.body.displayName, `${prefix}-put-renamed`);
      assert.deepEqual(regrouped.body.members.map((m: { value: string }) => m.value).sort(), idsOf(1, 2));
      assert.deepEqual((await gh.directory.groups.memberIds(group.id)).sort(), idsOf(1, 2));
    });

    test('§3.5.2 PATCH: add, replace, remove; refusals as invalidSyntax, noTarget, invalidPath, invalidValue, mutability', async () => {
      const userName = `${prefix}.patch@example.com`;
      const id = (await req('POST', '/Users', { schemas: [USER], userName })).body.id;
      const patch = (...Operations: unknown[]) => req('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations });
      const added = await patch({ op: 'add', path: 'name.givenName', value: 'Pat' }, { op: 'ADD', value: { displayName: 'Pat C', externalId: 'ext-pat' } });
      assertScimJson(added, 200);
      assert.equal(added.body.name.givenName, 'Pat');
      assert.equal(added.body.displayName, 'Pat C');
      assert.equal(added.body.externalId, 'ext-pat');
      const removed = await patch({ op: 'remove', path: 'displayName' }, { op: 'Remove', path: 'externalId' });
      assert.equal(removed.body.displayName, undefined);
      assert.equal(removed.body.externalId, undefined);
      const caseless = await patch({ op: 'replace', path: 'NAME.FAMILYNAME', value: 'Caseless' }, { op: 'replace', path: 'DisplayName', value: 'Any Case' });
      assert.equal(caseless.body.name.familyName, 'Caseless');
      assert.equal(caseless.body.displayName, 'Any Case');

      assertScimError(await req('PATCH', `/Users/${id}`, { schemas: [PATCH_OP] }), 400, 'invalidSyntax');
      assertScimError(await req('PATCH', `/Users/${id}`, { schemas: [USER], Operations: [{ op: 'add', path: 'displayName', value: 'x' }] }), 400, 'invalidSyntax');
      assertScimError(await req('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: [] }), 400, 'invalidSyntax');
      assertScimError(await patch({ op: 'merge', path: 'displayName', value: 'x' }), 400, 'invalidSyntax');
      assertScimError(await patch({ op: 'add', path: 'displayName', value: 'x', extra: 1 }), 400, 'invalidSyntax');
      assertScimError(await patch('replace'), 400, 'invalidSyntax');
      assertScimError(await patch({ op: 'remove' }), 400, 'noTarget');
      assertScimError(await patch({ op: 'add', path: 'displayName' }), 400, 'invalidValue');
      assertScimError(await patch({ op: 'add', value: 'no path, no object' }), 400, 'invalidValue');
      assertScimError(await patch({ op: 'replace', path: 'emails[[', value: 'x' }), 400, 'invalidPath');
      assertScimError(await patch({ op: 'remove', path: 'userName' }), 400, 'invalidValue');
      assertScimError(await patch({ op: 'replace', path: 'active', value: 'perhaps' }), 400, 'invalidValue');
      assertScimError(await patch({ op: 'replace', path: 'id', value: '0123456789abcdef01234567' }), 400, 'mutability');
      assertScimError(await patch({ op: 'replace', path: 'userName', value: people[0]?.userName }), 409, 'uniqueness');
      assertScimError(await req('PATCH', '/Users/0123456789abcdef01234567', { schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'displayName', value: 'x' }] }), 404);
      // Nothing of a refused PATCH stays: its operations are one change.
      const before = await gh.directory.users.get(id);
      assertScimError(await patch({ op: 'replace', path: 'displayName', value: 'Half' }, { op: 'replace', path: 'active', value: 'perhaps' }), 400, 'invalidValue');
      assert.equal((await gh.directory.users.get(id)).displayname, before.displayname);

      const group = (await req('POST', '/Groups', { schemas: [GROUP], displayName: `${prefix}-patch` })).body;
      const groupPatch = (...Operations: unknown[]) => req('PATCH', `/Groups/${group.id}`, { schemas: [PATCH_OP], Operations });
      assertScimError(await groupPatch({ op: 'add', path: 'members', value: [{ value: '0123456789abcdef01234567' }] }), 400, 'invalidValue');
      assertScimError(await groupPatch({ op: 'add', path: 'members', value: [{ display: 'no value' }] }), 400, 'invalidValue');
      assertScimError(await groupPatch({ op: 'remove', path: 'displayName' }), 400, 'invalidValue');
      assert.equal((await groupPatch({ op: 'replace', path: 'members', value: [{ value: people[0]?.id }, { value: people[1]?.id }] })).status, 204);
      assert.equal((await groupPatch({ op: 'remove', path: 'members' })).status, 204);
      assert.deepEqual(await gh.directory.groups.memberIds(group.id), []);
    });

    test('§3.6 DELETE: 204 without a body, then 404', async () => {
      const id = (await req('POST', '/Users', { schemas: [USER], userName: `${prefix}.delete@example.com` })).body.id;
      const group = (await req('POST', '/Groups', { schemas: [GROUP], displayName: `${prefix}-delete`, members: [{ value: id }] })).body.id;
      const deleted = await req('DELETE', `/Users/${id}`);
      assert.equal(deleted.status, 204);
      assert.equal(deleted.text, '');
      assertScimError(await req('DELETE', `/Users/${id}`), 404);
      // The deleted user left the group, and its externalId could be reused.
      assert.deepEqual(await gh.directory.groups.memberIds(group), []);
      // A DELETE sent with a content type and an empty body is still a DELETE.
      assert.equal((await req('DELETE', `/Groups/${group}`, undefined, { raw: '' })).status, 204);
      assertScimError(await req('DELETE', `/Groups/${group}`), 404);
    });

    test('a user or group deleted outside SCIM (API, command line) takes its externalId with it: the id can be given again', async () => {
      const user = (await req('POST', '/Users', { schemas: [USER], userName: `${prefix}.elsewhere@example.com`, externalId: 'ext-elsewhere' })).body;
      const group = (await req('POST', '/Groups', { schemas: [GROUP], displayName: `${prefix}-elsewhere`, externalId: 'ext-elsewhere' })).body;
      await gh.directory.users.delete(user.id);
      await gh.directory.groups.delete(group.id);
      assert.equal((await req('GET', `/Users?${filterQuery('externalId eq "ext-elsewhere"')}`)).body.totalResults, 0);
      assertScimJson(await req('POST', '/Users', { schemas: [USER], userName: `${prefix}.again@example.com`, externalId: 'ext-elsewhere' }), 201);
      assertScimJson(await req('POST', '/Groups', { schemas: [GROUP], displayName: `${prefix}-again`, externalId: 'ext-elsewhere' }), 201);
    });

    test('§3.7, §3.11: Bulk and /Me are not offered: 501', async () => {
      assertScimError(await req('POST', '/Bulk', { schemas: ['urn:ietf:params:scim:api:messages:2.0:BulkRequest'], Operations: [] }), 501);
      assertScimError(await req('GET', '/Me'), 501);
    });

    test('§3.12 error bodies: schemas, status as a string, scimType, detail; a body too large is 413', async () => {
      const response = await req('GET', `/Users?${filterQuery('userName eq')}`);
      assert.deepEqual(Object.keys(response.body).sort(), ['detail', 'schemas', 'scimType', 'status']);
      assert.deepEqual(response.body.schemas, [ERROR]);
      assert.equal(response.body.status, '400');
      const huge = await req('POST', '/Users', { schemas: [USER], userName: `${prefix}.huge@example.com`, displayName: 'x'.repeat(2 * 1024 * 1024) });
      assertScimError(huge, 413);
      const long = await req('POST', '/Users', { schemas: [USER], userName: `${prefix}.long@example.com`, displayName: 'x'.repeat(300) });
      assertScimError(long, 400, 'invalidValue');
      assert.equal(response.headers.get('cache-control'), 'no-store');
    });

    test('malformed bodies never give a 500', async () => {
      const id = people[4]?.id;
      const bodies: unknown[] = [
        null,
        0,
        true,
        [],
        {},
        { userName: null },
        { userName: {} },
        { userName: ['a'] },
        { userName: `${prefix}.m@example.com`, name: 'Ada' },
        { userName: `${prefix}.m@example.com`, name: { givenName: 5 } },
        { userName: `${prefix}.m@example.com`, emails: [null] },
        { userName: `${prefix}.m@example.com`, emails: [{ value: 5 }] },
        { userName: `${prefix}.m@example.com`, emails: [{ value: 'a@b.example', primary: 'often' }] },
        { userName: `${prefix}.m@example.com`, externalId: 5 },
        { userName: `${prefix}.m@example.com`, schemas: 'urn' },
        { userName: `${prefix}.m@example.com`, [ENTERPRISE]: 'x' },
        { userName: `${prefix}.m@example.com`, [ENTERPRISE]: { manager: 5 } },
        { userName: `${prefix}.m@example.com`, [ENTERPRISE]: { department: ['a'] } },
        { userName: `x${'y'.repeat(300)}@example.com` },
        { userName: `${prefix}.m\u0007@example.com` },
      ];
      const group = await groupId();
      for (const body of bodies) {
        for (const [method, path] of [['POST', '/Users'], ['PUT', `/Users/${id}`], ['POST', '/Groups'], ['PUT', `/Groups/${group}`]] as const) {
          const response = await req(method, path, body);
          assert.ok(response.status >= 400 && response.status < 500, `${method} ${path} ${JSON.stringify(body)?.slice(0, 80)}: ${response.status} ${response.text.slice(0, 200)}`);
          assertScimError(response, response.status);
        }
      }
      for (const operations of [null, {}, [null], [{}], [{ op: 5 }], [{ op: 'add', path: 5, value: 1 }], [{ op: 'add', path: '', value: 1 }], [{ op: 'replace', path: 'name', value: 'flat' }], [{ op: 'replace', path: 'emails', value: 'x' }], [{ op: 'add', path: 'emails[type eq "work"].value', value: ['a'] }], [{ op: 'replace', value: { '': 1 } }], [{ op: 'remove', path: 'emails[value eq 5]' }], [{ op: 'replace', path: `${ENTERPRISE}:manager`, value: [1, 2] }]]) {
        const response = await req('PATCH', `/Users/${id}`, { schemas: [PATCH_OP], Operations: operations });
        assert.ok(response.status < 500, `${JSON.stringify(operations)}: ${response.status} ${response.text.slice(0, 200)}`);
        if (response.status !== 200) assertScimError(response, response.status);
      }
      assertScimError(await req('PATCH', `/Users/${id}`, undefined, { raw: '' }), 400);
      assertScimError(await req('POST', '/Users', undefined, { raw: '{"userName": "a", "userName": ' }), 400, 'invalidSyntax');
      assertScimError(await req('POST', '/Users', { schemas: [USER], userName: 'a\u0000b@example.com' }), 400);
    });

    let sharedGroup: string | undefined;
    async function groupId(): Promise<string> {
      sharedGroup ??= (await req('POST', '/Groups', { schemas: [GROUP], displayName: `${prefix}-target-${randomUUID()}` })).body.id as string;
      return sharedGroup;
    }
  });
}
