import { Button } from '@mantine/core';
import { useEffect, useState } from 'react';
import { useNavigate } from 'react-router';
import { SignInError } from '../../src/auth.ts';
import { auth } from '../auth.ts';
import { Loading, PortalMessage } from '../session.tsx';

/** /callback: Gatehouse sends the browser back here with a code (or an error) after sign-in. */
export function Callback() {
  const navigate = useNavigate();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    auth.completeSignIn().then(
      (returnTo) => navigate(returnTo, { replace: true }),
      (failure: unknown) => setError(failure),
    );
  }, [navigate]);
  if (error instanceof SignInError && error.code === 'access_denied') {
    return (
      <PortalMessage title="You can't use your apps yet" action={<Button onClick={() => void auth.signOut()}>Sign out and use another account</Button>}>
        {error.message || 'Your account is not active. Ask your organisation’s administrators.'}
      </PortalMessage>
    );
  }
  if (error) {
    return (
      <PortalMessage title="Sign-in did not finish" action={<Button onClick={() => void auth.signIn('/')}>Sign in again</Button>}>
        {error instanceof Error ? error.message : String(error)}
      </PortalMessage>
    );
  }
  return <Loading label="Finishing sign-in" />;
}

/** /signed-out: where the portal lands after signing out of Gatehouse. */
export function SignedOut() {
  return (
    <PortalMessage title="You have signed out" action={<Button onClick={() => void auth.signIn('/')}>Sign in again</Button>}>
      Your Gatehouse session has ended on this browser. Apps you opened from here may keep you signed in until you sign out of them.
    </PortalMessage>
  );
}
