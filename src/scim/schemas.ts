/** Schema URNs (RFC 7643 §8.7) and the discovery documents of RFC 7644 §4. */
export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_USER_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const LIST_RESPONSE_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
export const PATCH_OP_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const SEARCH_REQUEST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:SearchRequest';
const SERVICE_PROVIDER_CONFIG_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';
const RESOURCE_TYPE_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType';
const SCHEMA_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema';

/** The most resources one list answer holds; a larger `count` is cut to it (RFC 7644 §3.4.2.4). */
export const MAX_RESULTS = 1000;
export const DEFAULT_COUNT = 100;

/** The enterprise extension's simple attributes, kept as the user's custom attributes of the same name. */
export const ENTERPRISE_ATTRIBUTES = ['employeeNumber', 'costCenter', 'organization', 'division', 'department'] as const;
/** `manager.value` (the manager's SCIM id) is kept as the custom attribute `manager`. */
export const MANAGER_ATTRIBUTE = 'manager';

interface AttributeDefinition {
  name: string;
  type: 'string' | 'boolean' | 'complex' | 'reference' | 'dateTime';
  multiValued?: boolean;
  required?: boolean;
  caseExact?: boolean;
  mutability?: 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
  returned?: 'always' | 'never' | 'default' | 'request';
  uniqueness?: 'none' | 'server' | 'global';
  description: string;
  subAttributes?: AttributeDefinition[];
  referenceTypes?: string[];
}

/** RFC 7643 §7's defaults written out, as clients read them. */
function attribute(definition: AttributeDefinition): Record<string, unknown> {
  const { subAttributes, ...rest } = definition;
  return {
    multiValued: false,
    required: false,
    caseExact: false,
    mutability: 'readWrite',
    returned: 'default',
    uniqueness: 'none',
    ...rest,
    ...(subAttributes ? { subAttributes: subAttributes.map(attribute) } : {}),
  };
}

const string = (name: string, description: string, more: Partial<AttributeDefinition> = {}) => attribute({ name, type: 'string', description, ...more });

const USER_ATTRIBUTES = [
  string('userName', 'Unique identifier for the User: their Gatehouse username (letters, digits and . _ @ + -).', { required: true, uniqueness: 'server' }),
  attribute({
    name: 'name',
    type: 'complex',
    description: 'The components of the user’s name.',
    subAttributes: [
      { name: 'formatted', type: 'string', description: 'The full name; read from givenName and familyName.', mutability: 'readOnly' },
      { name: 'familyName', type: 'string', description: 'Kept as the Gatehouse last name.' },
      { name: 'givenName', type: 'string', description: 'Kept as the Gatehouse first name.' },
    ],
  }),
  string('displayName', 'The name shown for the user.'),
  attribute({ name: 'active', type: 'boolean', description: 'false suspends the user (they can no longer sign in, and their sessions end); true activates them.' }),
  attribute({ name: 'password', type: 'string', description: 'Not kept: users provisioned over SCIM sign in through their identity provider.', mutability: 'writeOnly', returned: 'never' }),
  attribute({
    name: 'emails',
    type: 'complex',
    multiValued: true,
    description: 'The user’s email address: Gatehouse keeps one (the primary, else the work one, else the first).',
    subAttributes: [
      { name: 'value', type: 'string', description: 'The email address.' },
      { name: 'type', type: 'string', description: 'Always work.' },
      { name: 'primary', type: 'boolean', description: 'Always true.' },
    ],
  }),
];

const ENTERPRISE_USER_ATTRIBUTES = [
  ...ENTERPRISE_ATTRIBUTES.map((name) => string(name, `Kept as the custom attribute ${name}.`)),
  attribute({
    name: 'manager',
    type: 'complex',
    description: 'The user’s manager; value (their id) is kept as the custom attribute manager.',
    subAttributes: [{ name: 'value', type: 'string', description: 'The id of the manager.' }],
  }),
];

const GROUP_ATTRIBUTES = [
  string('displayName', 'The group’s name, unique (without regard to case).', { required: true, uniqueness: 'server' }),
  attribute({
    name: 'members',
    type: 'complex',
    multiValued: true,
    description: 'The users in the group (groups are not nested).',
    subAttributes: [
      { name: 'value', type: 'string', description: 'The id of the member.', mutability: 'immutable' },
      { name: 'display', type: 'string', description: 'The member’s userName.', mutability: 'readOnly' },
      { name: 'type', type: 'string', description: 'Always User.', mutability: 'immutable' },
      { name: '$ref', type: 'reference', referenceTypes: ['User'], description: 'The member’s URI.', mutability: 'immutable' },
    ],
  }),
];

/** The attributes every resource has (RFC 7643 §3.1), not listed in the schemas themselves. */
const COMMON_NOTE = 'Every resource also has id (assigned by Gatehouse), externalId (the client’s, case-exact, unique per resource type) and meta.';

export function discovery(base: string) {
  const schemaDocument = (id: string, name: string, description: string, attributes: Record<string, unknown>[]) => ({
    schemas: [SCHEMA_SCHEMA],
    id,
    name,
    description,
    attributes,
    meta: { resourceType: 'Schema', location: `${base}/Schemas/${id}` },
  });
  const schemaList = [
    schemaDocument(USER_SCHEMA, 'User', `User Account. ${COMMON_NOTE}`, USER_ATTRIBUTES),
    schemaDocument(ENTERPRISE_USER_SCHEMA, 'EnterpriseUser', 'Enterprise User: kept as custom attributes of the user.', ENTERPRISE_USER_ATTRIBUTES),
    schemaDocument(GROUP_SCHEMA, 'Group', `Group: a Gatehouse user group. ${COMMON_NOTE}`, GROUP_ATTRIBUTES),
  ];
  const resourceTypeList = [
    {
      schemas: [RESOURCE_TYPE_SCHEMA],
      id: 'User',
      name: 'User',
      endpoint: '/Users',
      description: 'User Account',
      schema: USER_SCHEMA,
      schemaExtensions: [{ schema: ENTERPRISE_USER_SCHEMA, required: false }],
      meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/User` },
    },
    {
      schemas: [RESOURCE_TYPE_SCHEMA],
      id: 'Group',
      name: 'Group',
      endpoint: '/Groups',
      description: 'Group',
      schema: GROUP_SCHEMA,
      meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/Group` },
    },
  ];
  return {
    serviceProviderConfig: {
      schemas: [SERVICE_PROVIDER_CONFIG_SCHEMA],
      patch: { supported: true },
      bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
      filter: { supported: true, maxResults: MAX_RESULTS },
      changePassword: { supported: false },
      sort: { supported: false },
      etag: { supported: false },
      authenticationSchemes: [
        {
          type: 'oauthbearertoken',
          name: 'API key',
          description: 'Authorization: Bearer with a Gatehouse API key of scope scim (created on the console’s Security screen, or gatehouse api-keys create --scim).',
          primary: true,
        },
      ],
      meta: { resourceType: 'ServiceProviderConfig', location: `${base}/ServiceProviderConfig` },
    },
    schemas: schemaList,
    resourceTypes: resourceTypeList,
  };
}
